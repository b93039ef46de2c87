/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A cmocka fixture for unit tests that need files: a fresh temporary
 * directory per test, removed afterwards. Used as
 * cmocka_unit_test_setup_teardown(test, tmp_setup, tmp_teardown).
 */
#ifndef BERTH_TESTS_TMPDIR_H
#define BERTH_TESTS_TMPDIR_H

#include <stdio.h>
#include <stdlib.h>

struct tmp {
	char dir[64];
};

static int tmp_setup(void **state)
{
	struct tmp *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "/tmp/berth-unit.XXXXXX");
	if (!mkdtemp(t->dir)) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static int tmp_teardown(void **state)
{
	struct tmp *t = *state;
	char cmd[128];
	int ret;

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	ret = system(cmd);
	free(t);
	return ret ? -1 : 0;
}

#endif
