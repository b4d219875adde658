/* GET /ace/ and /ace/ui: one small self-contained page (no outside assets)
 * that shows /ace/status every few seconds — streams, their state while the
 * engine prebuffers or plays, viewers, engines, failovers — and links the
 * playlist. A token in the page's own URL (?token=) is passed on to the
 * requests it makes. */
#include <string.h>

#include "dataplane/conn.h"
#include "dataplane/ui_page.h"

static const char page[] =
        "<!doctype html>\n"
        "<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        "<title>acexy</title>\n"
        "<style>\n"
        "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}\n"
        "h1{font-size:1.4em;margin:0 0 .3em}h2{font-size:1.1em;margin:1.2em 0 .4em}\n"
        "table{border-collapse:collapse;width:100%;background:#fff}\n"
        "th,td{border:1px solid #ddd;padding:.3em .5em;text-align:left;white-space:nowrap}\n"
        "th{background:#eee}td.num{text-align:right}\n"
        ".st-playing{color:#176b1b;font-weight:600}.st-prebuffering{color:#a65f00;font-weight:600}"
        "\n"
        ".bad{color:#b00020}.muted{color:#777}#meta span{margin-right:1.2em}\n"
        "</style></head><body>\n"
        "<h1>acexy</h1>\n"
        "<div id=\"meta\" class=\"muted\">loading&hellip;</div>\n"
        "<p><a id=\"playlist\" href=\"playlist.m3u\">playlist.m3u</a> &middot; "
        "<a id=\"raw\" href=\"status\">status (JSON)</a></p>\n"
        "<h2>Streams</h2>\n"
        "<table id=\"streams\"><thead><tr><th>Content</th><th>State</th><th>Engine</th>"
        "<th>Viewers</th><th>Failovers</th><th>Engine status</th><th>Peers</th>"
        "<th>Down KB/s</th><th>Progress</th><th>MB</th><th>Age</th></tr></thead>"
        "<tbody></tbody></table>\n"
        "<p id=\"nostreams\" class=\"muted\" hidden>No streams.</p>\n"
        "<h2>Engines</h2>\n"
        "<table id=\"engines\"><thead><tr><th>Engine</th><th>Streams</th></tr></thead>"
        "<tbody></tbody></table>\n"
        "<script>\n"
        "'use strict';\n"
        "const tok=new URLSearchParams(location.search).get('token');\n"
        "const q=tok?'?token='+encodeURIComponent(tok):'';\n"
        "document.getElementById('playlist').href='playlist.m3u'+q;\n"
        "document.getElementById('raw').href='status'+q;\n"
        "function td(tr,text,cls){const c=document.createElement('td');"
        "c.textContent=text==null?'-':String(text);if(cls)c.className=cls;tr.appendChild(c);}\n"
        "function age(s){s=Math.round(s);return s<60?s+'s':s<3600?Math.floor(s/60)+'m'+(s%60)+'s'"
        ":Math.floor(s/3600)+'h'+Math.floor(s%3600/60)+'m';}\n"
        "function render(j){\n"
        " const m=document.getElementById('meta');m.textContent='';\n"
        " for(const [k,v] of [['instance',j.instance],['version',j.version],"
        "['uptime',age(j.uptime_s)],['viewers',j.viewers],['controlplane',"
        "j.controlplane_connected?'connected':'NOT "
        "connected'],['draining',j.draining?'yes':'no']]){"
        "const s=document.createElement('span');s.textContent=k+': '+v;"
        "if(k==='controlplane'&&!j.controlplane_connected)s.className='bad';m.appendChild(s);}\n"
        " const tb=document.querySelector('#streams tbody');tb.textContent='';\n"
        " for(const s of j.streams||[]){const e=s.engine_state||{};const "
        "tr=document.createElement('tr');\n"
        "  tr.dataset.content=s.content;\n"
        "  td(tr,s.content);td(tr,s.state||'playing','st-'+(s.state||'playing'));td(tr,s.engine);\n"
        "  td(tr,s.viewers,'num');td(tr,s.failovers==null?0:s.failovers,'num');\n"
        "  td(tr,e.error?e.error:e.status,e.error?'bad':'');td(tr,e.peers,'num');"
        "td(tr,e.speed_down,'num');\n"
        "  td(tr,e.progress==null?null:e.progress+'%','num');"
        "td(tr,(s.bytes/1048576).toFixed(1),'num');td(tr,age(s.age_s),'num');tb.appendChild(tr);}\n"
        " document.getElementById('nostreams').hidden=(j.streams||[]).length>0;\n"
        " const eb=document.querySelector('#engines tbody');eb.textContent='';\n"
        " for(const e of j.engines||[]){const tr=document.createElement('tr');td(tr,e.engine);"
        "td(tr,e.streams,'num');eb.appendChild(tr);}\n"
        "}\n"
        "async function tick(){try{const r=await fetch('status'+q,{cache:'no-store'});\n"
        " if(!r.ok)throw new Error('HTTP '+r.status);render(await r.json());}\n"
        " catch(err){const m=document.getElementById('meta');m.textContent='status unavailable: '"
        "+err.message;m.className='bad';}}\n"
        "tick();setInterval(tick,3000);\n"
        "</script></body></html>\n";

void ui_page_serve(struct conn *c)
{
	conn_respond(c, 200, "text/html; charset=utf-8",
	             "Content-Security-Policy: default-src 'none'; script-src 'unsafe-inline'; "
	             "style-src 'unsafe-inline'; connect-src 'self'; img-src 'none'\r\n"
	             "X-Content-Type-Options: nosniff\r\n",
	             page, sizeof(page) - 1);
}
