"""The operations pack's alerts and dashboard use only metrics the daemons
export: every acexy_* name in deploy/k8s/components/monitoring (the
PrometheusRule and the Grafana dashboard) is compared with a live /metrics
scrape of both daemons, the controlplane in orchestrator mode (its
orchestrator and event metrics exist only there), after a stream."""
import json
import os
import re
import unittest

import acexytest as t

MON = os.path.join(t.SOURCE_DIR, "deploy", "k8s", "components", "monitoring")
NAME = re.compile(r"\bacexy_[a-z0-9_]+")


def referenced(path):
    with open(path, encoding="utf-8") as f:
        return set(NAME.findall(f.read()))


def exported(port):
    _, _, body = t.http_get(port, "/metrics")
    names = set()
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, 1)[0])
    return names


class MonitoringTest(t.TestCase):
    def test_rules_and_dashboard_use_exported_metrics(self):
        oport = t.start_fake_orchestrator(self, "--engines", "1")
        st = t.Stack(self, start_engine=False, env={
            "ACEXY_ORCH_URL": "http://127.0.0.1:%d" % oport, "ACEXY_ORCH_POLL_INTERVAL": "1s"})
        st.start()
        rep = t.tscheck(st.url("id=" + "d" * 40), nbytes=200000)
        self.assertGreaterEqual(rep["bytes"], 200000, rep)
        have = exported(st.port) | exported(st.cp_port)
        self.assertIn("acexy_cp_events_total", have, "the controlplane is not in orchestrator mode")
        rules = referenced(os.path.join(MON, "prometheusrule.yaml"))
        dash = referenced(os.path.join(MON, "acexy-dashboard.json"))
        self.assertGreaterEqual(len(rules), 8)
        self.assertGreaterEqual(len(dash), 15)
        problems = []
        for what, names in (("prometheusrule.yaml", rules), ("acexy-dashboard.json", dash)):
            missing = sorted(names - have)
            if missing:
                problems.append("%s uses metrics neither daemon exports: %s" % (what, ", ".join(missing)))
        self.assertEqual(problems, [], "\n".join(problems) + "\nexported: " + ", ".join(sorted(have)))

    def test_every_panel_queries_an_acexy_metric(self):
        with open(os.path.join(MON, "acexy-dashboard.json"), encoding="utf-8") as f:
            dash = json.load(f)
        self.assertTrue(dash["panels"])
        for p in dash["panels"]:
            exprs = [x.get("expr", "") for x in p.get("targets", [])]
            self.assertTrue(exprs and all(NAME.search(e) for e in exprs), p["title"])


if __name__ == "__main__":
    t.main()
