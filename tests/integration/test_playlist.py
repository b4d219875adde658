"""GET /ace/playlist.m3u: IPTV lists from files and HTTP servers, merged and
rewritten to this proxy's own URLs, kept through broken refreshes, behind
the same access rules as /ace/getstream."""
import os
import sys
import time

from acexytest import (Stack, TestCase, binpath, free_port, http_get, main, tscheck,
                       wait_until)

ID1 = "0123456789abcdef0123456789abcdef01234567"
ID2 = "abcdef0123456789abcdef0123456789abcdef01"
ID3 = "1111111111111111111111111111111111111111"

FILE_LIST = (
    "\ufeff#EXTM3U url-tvg=\"http://epg.example/guide.xml.gz\"\r\n"
    "#EXTINF:-1 tvg-id=\"uno.es\" tvg-logo=\"http://logo.example/1.png\" group-title=\"Deportes\",Uno HD\r\n"
    "acestream://%s\r\n"
    "#EXTINF:-1 tvg-id=\"dos\" group-title=\"Cine\",Dos (ñ)\r\n"
    "http://127.0.0.1:6878/ace/getstream?id=%s&pid=42\r\n"
    "#EXTINF:-1 group-title=\"Radio\",A radio\r\n"
    "http://radio.example/live.mp3\r\n" % (ID1, ID2))

HTTP_LIST = (
    "#EXTM3U x-tvg-url=\"http://epg.example/other.xml\"\n"
    "#EXTINF:-1 group-title=\"Duplicado\",Uno again\n"
    "ace://%s\n"
    "#EXTINF:-1 group-title=\"Nuevo\",Tres\n"
    "http://some.proxy:8000/ace/getstream?infohash=%s\n" % (ID1, ID3))


class PlaylistTest(TestCase):
    def web_server(self, directory):
        """python's http.server on loopback serving `directory`; its port."""
        port = free_port()
        p = self.start([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port),
                        "--directory", directory], name="http.server")
        wait_until(lambda: http_get(port, "/")[0] == 200, 10, what="http.server up")
        return port, p

    def stack(self, sources, **env):
        e = {"ACEXY_PLAYLIST_SOURCES": sources, "ACEXY_PLAYLIST_REFRESH": "1s"}
        e.update(env)
        return Stack(self, env=e).start()

    def playlist(self, st, query="", headers=None):
        h = {"Host": "tv.example:8080"}
        h.update(headers or {})
        return http_get(st.port, "/ace/playlist.m3u" + query, headers=h)

    def wait_playlist(self, st, needle, query="", headers=None, timeout=10):
        def ok():
            code, _, body = self.playlist(st, query, headers)
            return body.decode() if code == 200 and needle in body.decode() else None
        return wait_until(ok, timeout, what="playlist with %r" % needle)

    def sources(self):
        """FILE_LIST in a file and HTTP_LIST on a local web server: the
        file's path, the server's port and process."""
        d = self.tmpdir()
        path = os.path.join(d, "list.m3u")
        with open(path, "w", encoding="utf-8") as f:
            f.write(FILE_LIST)
        web = os.path.join(d, "web")
        os.mkdir(web)
        with open(os.path.join(web, "more.m3u"), "w") as f:
            f.write(HTTP_LIST)
        wport, proc = self.web_server(web)
        return path, wport, proc

    def test_file_and_http_sources_merged_and_rewritten(self):
        path, wport, _ = self.sources()
        st = self.stack("%s, http://127.0.0.1:%d/more.m3u" % (path, wport))
        body = self.wait_playlist(st, ID3)
        base = "http://tv.example:8080/ace/getstream"
        self.assertEqual(body, (
            "#EXTM3U url-tvg=\"http://epg.example/guide.xml.gz\" x-tvg-url=\"http://epg.example/other.xml\"\n"
            "#EXTINF:-1 tvg-id=\"uno.es\" tvg-logo=\"http://logo.example/1.png\" group-title=\"Deportes\",Uno HD\n"
            "%s?id=%s\n"
            "#EXTINF:-1 tvg-id=\"dos\" group-title=\"Cine\",Dos (ñ)\n"
            "%s?id=%s\n"
            "#EXTINF:-1 group-title=\"Radio\",A radio\n"
            "http://radio.example/live.mp3\n"
            "#EXTINF:-1 group-title=\"Nuevo\",Tres\n"
            "%s?infohash=%s\n" % (base, ID1, base, ID2, base, ID3)))
        code, hdrs, _ = self.playlist(st)
        self.assertIn("mpegurl", hdrs["content-type"])
        # the rewritten entry plays through this proxy
        code, _, body = http_get(st.port, "/ace/playlist.m3u", headers={"Host": "127.0.0.1:%d" % st.port})
        url = [l for l in body.decode().splitlines() if ID1 in l][0]
        self.assertEqual(url, "http://127.0.0.1:%d/ace/getstream?id=%s" % (st.port, ID1))
        r = tscheck(url, nbytes=100000)
        self.assertEqual(r["status"], 200, r)
        self.assertEqual(r["sync_errors"], 0, r)
        self.assertIn("playlist_source_loaded", st.dp.log())

    def test_broken_refresh_keeps_last_good_copy(self):
        path, wport, web_proc = self.sources()
        st = self.stack("%s,http://127.0.0.1:%d/more.m3u" % (path, wport))
        good = self.wait_playlist(st, ID3)
        # the file turns into an error page, the server goes away
        with open(path, "w") as f:
            f.write("<html><body>502 Bad Gateway</body></html>\n")
        web_proc.kill()
        wait_until(lambda: st.dp.log().count("playlist_refresh_failed") >= 4, 10,
                   what="two failed refreshes of both sources")
        self.assertIn("no #EXTM3U", st.dp.log())
        code, _, body = self.playlist(st)
        self.assertEqual(code, 200)
        self.assertEqual(body.decode(), good)
        # a good copy again: the next refresh takes it
        with open(path, "w") as f:
            f.write("#EXTM3U\n#EXTINF:-1,Cuatro\nacestream://%s\n" % ("4" * 40))
        body = self.wait_playlist(st, "4" * 40)
        self.assertNotIn(ID2, body)  # the file's old entries went with its old copy
        self.assertIn(ID3, body)  # the server's last good copy stays

    def test_token_and_forwarded_host(self):
        d = self.tmpdir()
        path = os.path.join(d, "list.m3u")
        with open(path, "w") as f:
            f.write(FILE_LIST)
        st = self.stack(path, ACEXY_ACCESS_TOKEN="s3cr t", ACEXY_TRUSTED_PROXIES="127.0.0.1/32")
        code, _, _ = self.playlist(st)
        self.assertEqual(code, 401)
        code, _, _ = self.playlist(st, "?token=wrong")
        self.assertEqual(code, 403)
        body = self.wait_playlist(st, ID1, "?token=s3cr%20t")
        self.assertIn("http://tv.example:8080/ace/getstream?id=%s&token=s3cr%%20t\n" % ID1, body)
        # Bearer works too, and the URLs still carry the token the player needs
        body = self.wait_playlist(st, ID1, headers={"Authorization": "Bearer s3cr t"})
        self.assertIn("?id=%s&token=s3cr%%20t\n" % ID1, body)
        # behind a trusted proxy: its scheme and host
        body = self.wait_playlist(st, ID1, "?token=s3cr%20t", headers={
            "X-Forwarded-Proto": "https", "X-Forwarded-Host": "tv.public.example"})
        self.assertIn("https://tv.public.example/ace/getstream?id=%s&token=" % ID1, body)
        # a hostile Host is refused, not written into the list
        code, _, _ = self.playlist(st, "?token=s3cr%20t", headers={"Host": "a\"b<c>"})
        self.assertEqual(code, 400)

    def test_forwarded_headers_ignored_from_untrusted_peers(self):
        d = self.tmpdir()
        path = os.path.join(d, "list.m3u")
        with open(path, "w") as f:
            f.write(FILE_LIST)
        st = self.stack(path)
        body = self.wait_playlist(st, ID1, headers={"X-Forwarded-Proto": "https",
                                                    "X-Forwarded-Host": "evil.example"})
        self.assertIn("http://tv.example:8080/ace/getstream?id=%s\n" % ID1, body)
        self.assertNotIn("evil", body)

    def test_without_sources(self):
        st = Stack(self).start()
        code, _, body = http_get(st.port, "/ace/playlist.m3u")
        self.assertEqual(code, 404)
        self.assertIn(b"ACEXY_PLAYLIST_SOURCES", body)

    def test_unreadable_source_at_start(self):
        st = self.stack("/nonexistent/list.m3u")
        wait_until(lambda: "playlist_refresh_failed" in st.dp.log(), 10, what="failure logged")
        code, hdrs, _ = self.playlist(st)
        self.assertEqual(code, 503)
        self.assertIn("retry-after", hdrs)


if __name__ == "__main__":
    main()
