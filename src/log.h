/* SPDX-License-Identifier: GPL-2.0-only */
/* Diagnostics on stderr. stdout belongs to the event stream. */
#ifndef BERTH_LOG_H
#define BERTH_LOG_H

#include <stdbool.h>

extern bool log_verbose;

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Routes libbpf's messages through log_*: its debug lines only with -v. */
void log_setup_libbpf(void);

#endif
