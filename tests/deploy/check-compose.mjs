// Checks acexy's rules on Compose files as `docker-compose config` printed
// them (interpolated, anchors and merge keys resolved):
//   node tests/deploy/check-compose.mjs NAME=RENDERED.yaml...
// Exit 0 when all hold, 1 otherwise.
import fs from "node:fs";
import YAML from "yaml";

function seconds(d) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(String(d ?? ""));
  return m ? Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2] ?? "s"] : NaN;
}

let failed = 0;
let passed = 0;
for (const arg of process.argv.slice(2)) {
  const [name, file] = arg.split("=");
  const c = YAML.parse(fs.readFileSync(file, "utf8"));
  const p = [];
  const s = c.services ?? {};
  const cp = s.controlplane;
  const dp = s.dataplane;
  if (!cp || !dp) p.push("needs services controlplane and dataplane");
  else {
    const vol = (svc, target) => (svc.volumes ?? []).map((v) => (typeof v === "string" ? { source: v.split(":")[0], target: v.split(":")[1] } : v)).find((v) => v.target === target)?.source;
    for (const dir of ["/run/acexy", "/var/lib/acexy"]) {
      const a = vol(cp, dir);
      const b = vol(dp, dir);
      if (!a || a !== b) p.push(`controlplane and dataplane must share one named volume at ${dir} (got ${a}, ${b})`);
      else if (!(a in (c.volumes ?? {}))) p.push(`${dir}: ${a} is not a named volume`);
    }
    if (JSON.stringify(cp.entrypoint) !== '["acexy-controlplane"]') p.push("controlplane: entrypoint must be [acexy-controlplane]");
    if (dp.entrypoint) p.push("dataplane: keep the image's entrypoint (acexy-dataplane)");
    for (const [n, svc] of [["controlplane", cp], ["dataplane", dp]]) {
      if (svc.user !== "10001:10001") p.push(`${n}: user must be 10001:10001`);
      if (svc.read_only !== true) p.push(`${n}: read_only root filesystem`);
      if (!(svc.cap_drop ?? []).includes("ALL")) p.push(`${n}: cap_drop ALL`);
      if (!svc.healthcheck?.test?.includes("acexyctl")) p.push(`${n}: healthcheck through acexyctl`);
      if (svc.environment?.ACEXY_RUN_DIR !== "/run/acexy") p.push(`${n}: ACEXY_RUN_DIR=/run/acexy`);
    }
    const drain = seconds(dp.environment?.ACEXY_DRAIN_TIMEOUT ?? "25s");
    if (!(seconds(dp.stop_grace_period ?? "10s") > drain)) p.push(`dataplane: stop_grace_period must exceed the drain timeout (${drain}s)`);
    if (!(dp.ports ?? []).some((x) => String(x.target ?? x).endsWith("8080"))) p.push("dataplane: publish 8080");
    if ((dp.depends_on && !("controlplane" in dp.depends_on)) || !dp.depends_on) p.push("dataplane: depends_on controlplane (start order)");
    if (cp.environment?.ACEXY_ORCH_URL && !s.orchestrator) p.push("ACEXY_ORCH_URL set but no orchestrator service");
  }
  if (p.length) {
    failed++;
    console.log(`FAIL ${name}`);
    for (const x of p) console.log(`     ${x}`);
  } else {
    passed++;
    console.log(`ok   ${name}`);
  }
}
console.log(`compose: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
