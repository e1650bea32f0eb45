/*
 * check_canon.c - unit tests for mime/canon.c (7-bit canonical entity).
 */
#include "config.h"

#include "check_mime.h"
#include "canon.h"

Suite *canon_suite(void)
{
    Suite *s = suite_create("canon");
    return s;
}
