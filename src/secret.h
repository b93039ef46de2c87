/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Secrets read from files: the HTTP output's token_file and the metrics
 * endpoint's --metrics-token-file. Files, not flags, so that a token never
 * shows in ps or in a policy that gets shared.
 */
#ifndef BERTH_SECRET_H
#define BERTH_SECRET_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The file's one line without surrounding white space, malloc'd; NULL with
 * "token file PATH: why" in err when it cannot be read, is empty or has
 * more than one line.
 */
char *secret_read_token(const char *path, char *err, size_t errlen);

/* a == b, in a time that does not depend on where they differ. */
bool secret_equal(const char *a, size_t a_len, const char *b, size_t b_len);

#endif
