/* GET /ace/ and /ace/ui: the status page (ui_page.c). */
#ifndef ACEXY_DP_UI_PAGE_H
#define ACEXY_DP_UI_PAGE_H

struct conn;
void ui_page_serve(struct conn *c);

#endif
