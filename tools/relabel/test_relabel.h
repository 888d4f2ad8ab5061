
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * What the files of the test-relabel binary share: the TAP helpers and
 * the temporary files of test_relabel.c, the tests of test_relabel_io.c.
 */


#ifndef _TEST_RELABEL_H_INCLUDED_
#define _TEST_RELABEL_H_INCLUDED_


#include <stdio.h>


extern int  test_n;
extern int  test_failed;

void ok(int cond, const char *fmt, ...);
void is_str(const char *got, const char *want, const char *name);
void is_num(long long got, long long want, const char *name);
FILE *file_with(const char *content);
char *file_content(FILE *f);

void test_error_text(void);
void test_params(void);
void test_retry_after(void);
void test_read_line(void);
void test_files(void);
void test_resume(void);


#endif /* _TEST_RELABEL_H_INCLUDED_ */
