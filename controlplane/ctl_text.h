/* acexyctl's text output: one admin result as aligned key/value lines,
 * nested objects as indented sub-tables, lists of records as tables. */
#ifndef ACEXY_CTL_TEXT_H
#define ACEXY_CTL_TEXT_H

#include <jansson.h>
#include <stdio.h>

void ctl_print_text(FILE *f, const char *cmd, json_t *res);

#endif
