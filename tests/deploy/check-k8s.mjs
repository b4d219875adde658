// Renders deploy/k8s/base and every overlay, validates each object offline
// against the Kubernetes schemas (k8s-schema.mjs), checks the cross-object
// references and acexy's own rules, and, when a kubectl with kustomize v4+ is
// installed, compares our rendering with kustomize's.
//   node tests/deploy/check-k8s.mjs [--out DIR] [--no-kubectl] [K8S_DIR]
// Exit 0 when everything holds, 1 otherwise (every problem is printed).
import fs from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import YAML from "yaml";
import { render, idString, RenderError, scratchTree, generatorInputs, readYamlDocs } from "./kustomize-lite.mjs";
import { validateObject } from "./k8s-schema.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
let outDir = null;
let useKubectl = true;
let k8sDir = path.resolve(here, "../../deploy/k8s");
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--out") outDir = args[++i];
  else if (args[i] === "--no-kubectl") useKubectl = false;
  else k8sDir = path.resolve(args[i]);
}

let passed = 0;
let failed = 0;
function report(name, problems) {
  if (problems.length === 0) {
    passed++;
    console.log(`ok   ${name}`);
  } else {
    failed++;
    console.log(`FAIL ${name}`);
    for (const p of problems) console.log(`     ${p}`);
  }
}

function durationSeconds(s) {
  let total = 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let m;
  let seen = "";
  while ((m = re.exec(String(s)))) {
    seen += m[0];
    total += Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2]];
  }
  return seen === String(s) ? total : NaN;
}

function preStopSleep(c) {
  const cmd = c.lifecycle?.preStop?.exec?.command;
  if (cmd && cmd[0] === "sleep") return Number(cmd[1]);
  if (c.lifecycle?.preStop?.sleep) return Number(c.lifecycle.preStop.sleep.seconds);
  return 0;
}

// The scale-out topology: one controlplane Deployment (one replica,
// Recreate, the spool on a PersistentVolumeClaim) reached by the dataplanes
// through a Service over tcp:// or tls+tcp:// with a token from a Secret;
// only dataplane pods may reach the control port; the dataplanes scale.
function scaleOutChecks(objs, acexy, cpDep, cp, dp) {
  const problems = [];
  const env = (c) => Object.fromEntries((c.env ?? []).map((e) => [e.name, e]));
  const cpEnv = env(cp);
  const dpEnv = env(dp);
  if (cpDep.spec.replicas !== 1) problems.push("acexy-controlplane: exactly one replica (two would hand one engine slot to two viewers)");
  if (cpDep.spec.strategy?.type !== "Recreate") problems.push("acexy-controlplane: strategy Recreate (never two at once, the spool volume attached once)");
  const cpPod = cpDep.spec.template.spec;
  const stateVol = cpPod.volumes?.find((v) => v.name === cp.volumeMounts?.find((m) => m.mountPath === "/var/lib/acexy")?.name);
  const pvc = stateVol?.persistentVolumeClaim && objs.find((o) => o.kind === "PersistentVolumeClaim" && o.metadata.name === stateVol.persistentVolumeClaim.claimName);
  if (!pvc) problems.push("acexy-controlplane: /var/lib/acexy (the event spool) must be a PersistentVolumeClaim of this rendering");
  const url = (e) => /^(tcp|tls\+tcp):\/\/(.+):(\d+)$/.exec(e?.value ?? "");
  const cu = url(cpEnv.ACEXY_CONTROL_URL);
  const du = url(dpEnv.ACEXY_CONTROL_URL);
  if (!cu || !du) return [...problems, "scale-out: both need ACEXY_CONTROL_URL tcp:// or tls+tcp:// HOST:PORT"];
  if (cu[1] !== du[1]) problems.push(`scale-out: the controlplane listens on ${cu[1]}://, the dataplanes dial ${du[1]}://`);
  const cpPort = cp.ports?.find((p) => p.containerPort === Number(cu[3]));
  if (!cpPort) problems.push(`acexy-controlplane: no container port ${cu[3]} (its ACEXY_CONTROL_URL)`);
  const svc = objs.find((o) => o.kind === "Service" && o.metadata.name === du[2]);
  const svcSelects = svc && Object.entries(svc.spec.selector ?? {}).every(([k, v]) => cpDep.spec.template.metadata.labels?.[k] === v);
  const svcPort = svc?.spec.ports?.find((p) => p.port === Number(du[3]));
  if (!svc || !svcSelects || !svcPort || (svcPort.targetPort !== cpPort?.name && svcPort.targetPort !== cpPort?.containerPort)) problems.push(`scale-out: the dataplanes dial ${du[2]}:${du[3]}, which must be a Service port leading to the controlplane's control port`);
  for (const [who, e] of [["controlplane", cpEnv], ["dataplane", dpEnv]]) {
    const tok = e.ACEXY_CONTROL_TOKEN;
    if (e.ACEXY_CONTROL_TOKEN?.value) problems.push(`scale-out/${who}: the control token's value is in the manifest; take it from a Secret`);
    if (!tok?.valueFrom?.secretKeyRef && !e.ACEXY_CONTROL_TOKEN_FILE) problems.push(`scale-out/${who}: ACEXY_CONTROL_TOKEN(_FILE) from a Secret needed for ${cu[1]}://`);
    if (cu[1] === "tls+tcp") for (const k of ["CERT", "KEY", "CA"]) if (!e[`ACEXY_CONTROL_TLS_${k}`]) problems.push(`scale-out/${who}: tls+tcp:// needs ACEXY_CONTROL_TLS_${k}`);
  }
  const mountedSecret = (dep, c, file) => {
    const m = (c.volumeMounts ?? []).find((x) => file?.startsWith(x.mountPath + "/"));
    const v = m && dep.spec.template.spec.volumes?.find((x) => x.name === m.name);
    return !!v?.secret;
  };
  for (const [who, dep, c, e] of [["controlplane", cpDep, cp, cpEnv], ["dataplane", acexy, dp, dpEnv]]) {
    for (const k of ["ACEXY_CONTROL_TOKEN_FILE", "ACEXY_CONTROL_TLS_KEY"]) if (e[k] && !mountedSecret(dep, c, e[k].value)) problems.push(`scale-out/${who}: ${k} must be a file of a mounted Secret`);
  }
  const np = objs.find((o) => o.kind === "NetworkPolicy" && Object.entries(o.spec.podSelector?.matchLabels ?? {}).every(([k, v]) => cpDep.spec.template.metadata.labels?.[k] === v) && (o.spec.policyTypes ?? ["Ingress"]).includes("Ingress"));
  if (!np) problems.push("scale-out: a NetworkPolicy must select the controlplane pods");
  else {
    for (const rule of np.spec.ingress ?? []) {
      const toControl = !rule.ports || rule.ports.some((p) => p.port === cpPort?.name || p.port === cpPort?.containerPort);
      if (!toControl) continue;
      const onlyDp = (rule.from ?? []).length > 0 && rule.from.every((f) => f.podSelector && !f.namespaceSelector && !f.ipBlock && Object.entries(f.podSelector.matchLabels ?? {}).every(([k, v]) => acexy.spec.template.metadata.labels?.[k] === v) && Object.keys(f.podSelector.matchLabels ?? {}).length > 0 && !Object.entries(f.podSelector.matchLabels).every(([k, v]) => cpDep.spec.template.metadata.labels?.[k] === v));
      if (!onlyDp) problems.push(`NetworkPolicy/${np.metadata.name}: an ingress rule lets others than dataplane pods reach the control port`);
    }
    if (!(np.spec.ingress ?? []).some((r) => r.ports?.some((p) => p.port === cpPort?.name || p.port === cpPort?.containerPort))) problems.push(`NetworkPolicy/${np.metadata.name}: no rule lets the dataplanes reach the control port`);
  }
  if (!objs.some((o) => o.kind === "HorizontalPodAutoscaler" && o.spec.scaleTargetRef?.name === acexy.metadata.name)) problems.push("scale-out: the dataplane Deployment needs a HorizontalPodAutoscaler");
  return problems;
}

// References between objects and acexy's rules for its own pod. podman: the
// rendering for `podman kube play` (overlays/podman): host network, no
// container ports or probes (podman cannot take them there); the Service is
// ignored by podman.
function crossChecks(objs, podman = false) {
  const problems = [];
  const byKind = (k) => objs.filter((o) => o.kind === k);
  const names = (k) => new Set(byKind(k).map((o) => o.metadata.name));
  const configMaps = new Map(byKind("ConfigMap").map((o) => [o.metadata.name, o]));
  const secrets = new Map(byKind("Secret").map((o) => [o.metadata.name, o]));
  const workloads = objs.filter((o) => o.spec?.template?.spec);

  for (const w of workloads) {
    const where = `${w.kind}/${w.metadata.name}`;
    const pod = w.spec.template.spec;
    const labels = w.spec.template.metadata?.labels ?? {};
    for (const [k, v] of Object.entries(w.spec.selector?.matchLabels ?? {})) {
      if (labels[k] !== v) problems.push(`${where}: selector ${k}=${v} does not match the pod template`);
    }
    const volumes = new Set((pod.volumes ?? []).map((v) => v.name));
    for (const v of pod.volumes ?? []) {
      if (v.configMap && !configMaps.has(v.configMap.name) && !v.configMap.optional) problems.push(`${where}: volume ${v.name} names missing ConfigMap ${v.configMap.name}`);
      if (v.secret && !secrets.has(v.secret.secretName) && !v.secret.optional) problems.push(`${where}: volume ${v.name} names missing Secret ${v.secret.secretName}`);
      const sec = v.secret && secrets.get(v.secret.secretName);
      for (const it of (sec && v.secret.items) || []) if (!(it.key in (sec.data ?? {})) && !(it.key in (sec.stringData ?? {}))) problems.push(`${where}: volume ${v.name}: Secret ${v.secret.secretName} has no key ${it.key}`);
    }
    const all = [...(pod.initContainers ?? []), ...(pod.containers ?? [])];
    const seen = new Set();
    for (const c of all) {
      if (seen.has(c.name)) problems.push(`${where}: two containers named ${c.name}`);
      seen.add(c.name);
      const ports = new Set((c.ports ?? []).map((p) => p.name).filter(Boolean));
      for (const m of c.volumeMounts ?? []) if (!volumes.has(m.name)) problems.push(`${where}/${c.name}: mount of unknown volume ${m.name}`);
      for (const probe of ["startupProbe", "livenessProbe", "readinessProbe"]) {
        const port = c[probe]?.httpGet?.port ?? c[probe]?.tcpSocket?.port;
        if (typeof port === "string" && !ports.has(port)) problems.push(`${where}/${c.name}: ${probe} names unknown port ${port}`);
      }
      for (const e of c.env ?? []) {
        const ref = e.valueFrom?.secretKeyRef;
        if (ref && !ref.optional) {
          const s = secrets.get(ref.name);
          if (!s) problems.push(`${where}/${c.name}: env ${e.name} names missing Secret ${ref.name}`);
          else if (!(ref.key in (s.stringData ?? {})) && !(ref.key in (s.data ?? {}))) problems.push(`${where}/${c.name}: Secret ${ref.name} has no key ${ref.key}`);
        }
        const cref = e.valueFrom?.configMapKeyRef;
        if (cref && !cref.optional && !configMaps.get(cref.name)?.data?.[cref.key]) problems.push(`${where}/${c.name}: env ${e.name} names missing ConfigMap key ${cref.name}/${cref.key}`);
      }
    }
  }

  for (const svc of podman ? [] : byKind("Service")) {
    const where = `Service/${svc.metadata.name}`;
    const sel = svc.spec?.selector ?? {};
    const pods = workloads.filter((w) => Object.entries(sel).every(([k, v]) => w.spec.template.metadata?.labels?.[k] === v));
    if (pods.length === 0) {
      problems.push(`${where}: selector matches no workload`);
      continue;
    }
    for (const p of svc.spec.ports ?? []) {
      if (typeof p.targetPort !== "string") continue;
      const ok = pods.some((w) => [...(w.spec.template.spec.initContainers ?? []), ...w.spec.template.spec.containers].some((c) => (c.ports ?? []).some((cp) => cp.name === p.targetPort)));
      if (!ok) problems.push(`${where}: targetPort ${p.targetPort} is no container port of the selected pods`);
    }
  }
  for (const pdb of byKind("PodDisruptionBudget")) {
    const sel = pdb.spec.selector?.matchLabels ?? {};
    if (!workloads.some((w) => Object.entries(sel).every(([k, v]) => w.spec.template.metadata?.labels?.[k] === v))) problems.push(`PodDisruptionBudget/${pdb.metadata.name}: selector matches no workload`);
  }
  for (const cm of byKind("ConfigMap").filter((o) => /dashboard/.test(o.metadata.name))) {
    if (cm.metadata.labels?.grafana_dashboard !== "1") problems.push(`ConfigMap/${cm.metadata.name}: needs the label grafana_dashboard: "1" (Grafana's dashboard sidecar)`);
    for (const [k, v] of Object.entries(cm.data ?? {})) {
      try {
        if (!JSON.parse(v).panels?.length) problems.push(`ConfigMap/${cm.metadata.name}: ${k} has no panels`);
      } catch (e) {
        problems.push(`ConfigMap/${cm.metadata.name}: ${k} is not JSON: ${e.message}`);
      }
    }
  }
  for (const hpa of byKind("HorizontalPodAutoscaler")) {
    const ref = hpa.spec.scaleTargetRef;
    if (!names(ref.kind).has(ref.name)) problems.push(`HorizontalPodAutoscaler/${hpa.metadata.name}: target ${ref.kind}/${ref.name} missing`);
    const target = objs.find((o) => o.kind === ref.kind && o.metadata.name === ref.name);
    if (target && "replicas" in target.spec) problems.push(`HorizontalPodAutoscaler/${hpa.metadata.name}: ${ref.kind}/${ref.name} still sets spec.replicas (apply would fight the HPA)`);
    for (const m of hpa.spec.metrics ?? []) {
      const c = m.containerResource?.container;
      if (c && target && ![...(target.spec.template.spec.containers ?? []), ...(target.spec.template.spec.initContainers ?? [])].some((x) => x.name === c)) problems.push(`HorizontalPodAutoscaler/${hpa.metadata.name}: no container ${c}`);
    }
  }
  for (const sm of byKind("ServiceMonitor")) {
    const sel = sm.spec.selector?.matchLabels ?? {};
    const svcs = byKind("Service").filter((s) => Object.entries(sel).every(([k, v]) => s.metadata.labels?.[k] === v));
    if (svcs.length === 0) problems.push(`ServiceMonitor/${sm.metadata.name}: selector matches no Service`);
    for (const ep of sm.spec.endpoints ?? []) {
      if (!svcs.some((s) => s.spec.ports.some((p) => p.name === ep.port))) problems.push(`ServiceMonitor/${sm.metadata.name}: port ${ep.port} not on the selected Service`);
    }
  }

  // acexy's own pod.
  const acexy = objs.find((o) => o.kind === "Deployment" && o.metadata.name === "acexy");
  if (!acexy) return [...problems, "no Deployment/acexy"];
  const pod = acexy.spec.template.spec;
  const containers = [...(pod.initContainers ?? []), ...pod.containers];
  // scale-out: the controlplane is Deployment/acexy-controlplane of its own
  const cpDep = objs.find((o) => o.kind === "Deployment" && o.metadata.name === "acexy-controlplane");
  const scaleOut = !!cpDep && !containers.some((c) => c.name === "controlplane");
  const cpPod = scaleOut ? cpDep.spec.template.spec : pod;
  const cp = (scaleOut ? cpPod.containers : containers).find((c) => c.name === "controlplane");
  const dp = containers.find((c) => c.name === "dataplane");
  if (!cp || !dp) return [...problems, "acexy: needs containers controlplane and dataplane (or Deployment/acexy-controlplane)"];
  const sidecar = !scaleOut && (pod.initContainers ?? []).includes(cp);
  if (scaleOut) problems.push(...scaleOutChecks(objs, acexy, cpDep, cp, dp));
  if (sidecar && cp.restartPolicy !== "Always") problems.push("acexy: controlplane init container must be a native sidecar (restartPolicy: Always)");
  if (!sidecar && cp.restartPolicy) problems.push("acexy: an ordinary controlplane container must not set restartPolicy");
  const wantProbe = (c, probe, pathWanted, port) => {
    const g = c[probe]?.httpGet;
    const portNum = (c.ports ?? []).find((p) => p.name === g?.port)?.containerPort ?? g?.port;
    if (!g || g.path !== pathWanted || portNum !== port) problems.push(`acexy/${c.name}: ${probe} must be GET ${pathWanted} on ${port}`);
  };
  if (podman) {
    if (sidecar) problems.push("acexy (podman): podman runs no native sidecars: base it on overlays/legacy");
    if (pod.hostNetwork !== true) problems.push("acexy (podman): needs hostNetwork: true");
    for (const c of [cp, dp]) {
      for (const k of ["ports", "startupProbe", "livenessProbe", "readinessProbe"]) if (c[k]) problems.push(`acexy/${c.name} (podman): no ${k} (podman kube play cannot take it on the host network)`);
    }
  } else {
    wantProbe(dp, "livenessProbe", "/livez", 8080);
    wantProbe(dp, "readinessProbe", "/readyz", 8080);
    wantProbe(cp, "livenessProbe", "/livez", 8081);
    wantProbe(cp, "readinessProbe", "/readyz", 8081);
    if (!cp.startupProbe) problems.push("acexy/controlplane: needs a startupProbe");
  }
  if (JSON.stringify(cp.command) !== '["acexy-controlplane"]') problems.push("acexy/controlplane: command must be [acexy-controlplane]");
  for (const p of new Set([pod, cpPod])) {
    const psc = p.securityContext ?? {};
    if (psc.runAsNonRoot !== true || psc.runAsUser !== 10001 || psc.fsGroup !== 10001 || psc.seccompProfile?.type !== "RuntimeDefault") problems.push("acexy: pod securityContext needs runAsNonRoot, runAsUser 10001, fsGroup 10001, seccompProfile RuntimeDefault");
  }
  for (const c of [cp, dp]) {
    const sc = c.securityContext ?? {};
    if (sc.readOnlyRootFilesystem !== true || sc.allowPrivilegeEscalation !== false || JSON.stringify(sc.capabilities?.drop) !== '["ALL"]' || sc.runAsNonRoot !== true) problems.push(`acexy/${c.name}: securityContext needs readOnlyRootFilesystem, allowPrivilegeEscalation false, drop ALL, runAsNonRoot`);
    if (!c.resources?.requests?.cpu || !c.resources?.requests?.memory || !c.resources?.limits?.memory) problems.push(`acexy/${c.name}: needs cpu/memory requests and a memory limit`);
    const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));
    if (env.ACEXY_CONFIG !== "/etc/acexy/acexy.yaml") problems.push(`acexy/${c.name}: ACEXY_CONFIG must be /etc/acexy/acexy.yaml`);
    const mounts = Object.fromEntries((c.volumeMounts ?? []).map((m) => [m.mountPath, m]));
    if (!mounts["/run/acexy"] || !mounts["/etc/acexy"] || !mounts["/var/lib/acexy"]) problems.push(`acexy/${c.name}: must mount /run/acexy, /var/lib/acexy and /etc/acexy`);
    if (mounts["/etc/acexy"]?.subPath) problems.push(`acexy/${c.name}: mount the config as a directory, not subPath`);
  }
  const runVol = (pod.volumes ?? []).find((v) => v.name === dp.volumeMounts.find((m) => m.mountPath === "/run/acexy")?.name);
  if (runVol?.emptyDir?.medium !== "Memory") problems.push("acexy: the run dir must be an emptyDir with medium Memory");
  if (!scaleOut && cp.volumeMounts.find((m) => m.mountPath === "/run/acexy")?.name !== runVol?.name) problems.push("acexy: both containers must share the run dir volume");
  const cfg = configMaps.get(pod.volumes.find((v) => v.name === dp.volumeMounts.find((m) => m.mountPath === "/etc/acexy")?.name)?.configMap?.name);
  const settings = cfg ? YAML.parse(cfg.data?.["acexy.yaml"] ?? "") ?? {} : {};
  if (!cfg) problems.push("acexy: /etc/acexy must come from a ConfigMap with acexy.yaml");
  const drain = durationSeconds(settings.drain_timeout ?? "25s");
  const grace = pod.terminationGracePeriodSeconds ?? 30;
  if (!(grace > preStopSleep(dp) + drain)) problems.push(`acexy: terminationGracePeriodSeconds ${grace} must exceed the dataplane's preStop sleep ${preStopSleep(dp)}s + drain_timeout ${drain}s`);
  if (preStopSleep(dp) <= 0) problems.push("acexy/dataplane: needs a preStop sleep so endpoints update before the drain");
  if (!sidecar && !scaleOut && !(preStopSleep(cp) >= preStopSleep(dp) + drain && preStopSleep(cp) < grace)) problems.push("acexy/controlplane (ordinary container): preStop sleep must outlast the dataplane's drain and stay below the grace period");
  const ann = acexy.spec.template.metadata?.annotations ?? {};
  if (ann["prometheus.io/scrape"] !== "true" || ann["prometheus.io/port"] !== "8080") problems.push("acexy: needs prometheus.io scrape annotations for port 8080");
  if (!byKind("PodDisruptionBudget").length) problems.push("acexy: needs a PodDisruptionBudget");
  return problems;
}

function normalize(objs) {
  return objs.map((o) => [idString(o), JSON.stringify(sortKeys(o))]).sort((a, b) => a[0].localeCompare(b[0]));
}
function sortKeys(v) {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object") return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])]));
  return v;
}

function kubectlKustomize() {
  if (!useKubectl) return null;
  try {
    const v = execFileSync("kubectl", ["version", "--client"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 20000 });
    const m = /Kustomize Version: v(\d+)/.exec(v);
    if (m && Number(m[1]) >= 4) return (dir) => YAML.parseAllDocuments(execFileSync("kubectl", ["kustomize", dir], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 60000 })).map((d) => d.toJS()).filter(Boolean);
  } catch {
    /* no kubectl */
  }
  return null;
}

// Secrets: no Secret object is committed with a value; every generator input
// that holds one is git-ignored, absent from git and has a FILE.example.
function secretRules() {
  const problems = [];
  const yamls = [];
  const walkDir = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walkDir(p);
      else if (/\.ya?ml$/.test(e.name)) yamls.push(p);
    }
  };
  walkDir(k8sDir);
  for (const f of yamls) {
    let docs;
    try {
      docs = readYamlDocs(f);
    } catch {
      continue; // patches and the like: the render reports them
    }
    for (const o of docs) if (o?.kind === "Secret") problems.push(`${path.relative(k8sDir, f)}: a committed Secret (${o.metadata?.name}); generate it (secretGenerator) from a git-ignored file`);
  }
  let git = true;
  try {
    execFileSync("git", ["rev-parse", "--is-inside-work-tree"], { cwd: k8sDir, stdio: "ignore" });
  } catch {
    git = false;
  }
  for (const g of generatorInputs(k8sDir)) {
    if (g.kind !== "Secret") continue;
    const rel = path.relative(k8sDir, g.file);
    if (!fs.existsSync(g.file + ".example")) problems.push(`${rel}: secretGenerator ${g.name} input without ${path.basename(g.file)}.example`);
    if (!git) continue;
    try {
      execFileSync("git", ["check-ignore", "-q", "--no-index", g.file], { cwd: k8sDir, stdio: "ignore" });
    } catch {
      problems.push(`${rel}: secretGenerator ${g.name} input is not git-ignored`);
    }
    const tracked = execFileSync("git", ["ls-files", "--", g.file], { cwd: k8sDir, encoding: "utf8" }).trim();
    if (tracked) problems.push(`${rel}: secretGenerator ${g.name} input is committed`);
  }
  if (!git) console.log("note: not a git checkout: git-ignore rules of secret inputs not checked");
  return problems;
}
report("secrets: none committed, generator inputs git-ignored with an .example", secretRules());

// Render from a scratch copy where missing git-ignored inputs are their examples.
k8sDir = scratchTree(k8sDir);
process.on("exit", () => fs.rmSync(k8sDir, { recursive: true, force: true }));
const targets = [path.join(k8sDir, "base")];
const overlays = path.join(k8sDir, "overlays");
for (const d of fs.readdirSync(overlays).sort()) if (fs.statSync(path.join(overlays, d)).isDirectory()) targets.push(path.join(overlays, d));
const kustomize = kubectlKustomize();
if (!kustomize) console.log("note: no kubectl with kustomize >= v4 here: rendering with tests/deploy/kustomize-lite.mjs only");

for (const dir of targets) {
  const name = path.relative(k8sDir, dir);
  let objs;
  try {
    objs = render(dir);
  } catch (e) {
    report(`${name}: render`, [e instanceof RenderError ? e.message : String(e.stack ?? e)]);
    continue;
  }
  report(`${name}: render (${objs.length} objects)`, []);
  if (outDir) {
    fs.mkdirSync(outDir, { recursive: true });
    fs.writeFileSync(path.join(outDir, name.replace(/\//g, "_") + ".yaml"), objs.map((o) => YAML.stringify(o)).join("---\n"));
  }
  const schemaProblems = [];
  for (const o of objs) {
    // kustomize writes generated Secrets' long values in lines of 70
    const v = o.kind === "Secret" && o.data ? { ...o, data: Object.fromEntries(Object.entries(o.data).map(([k, x]) => [k, String(x).replace(/\n/g, "")])) } : o;
    for (const e of validateObject(v)) schemaProblems.push(`${idString(o)}: ${e}`);
  }
  report(`${name}: schema`, schemaProblems);
  report(`${name}: references and acexy rules`, crossChecks(objs, name === "overlays/podman"));
  if (kustomize) {
    let theirs;
    try {
      theirs = kustomize(dir);
    } catch (e) {
      report(`${name}: same as kubectl kustomize`, [`kubectl kustomize failed: ${String(e.stderr ?? e.message).trim()}`]);
      continue;
    }
    const a = normalize(objs);
    const b = normalize(theirs);
    const diffs = [];
    const ids = new Set([...a.map((x) => x[0]), ...b.map((x) => x[0])]);
    for (const id of ids) {
      const x = a.find((e) => e[0] === id)?.[1];
      const y = b.find((e) => e[0] === id)?.[1];
      if (x !== y) diffs.push(`${id}: ${x === undefined ? "only in kustomize" : y === undefined ? "only in ours" : `differs\n       ours:      ${x}\n       kustomize: ${y}`}`);
    }
    report(`${name}: same as kubectl kustomize`, diffs);
  }
}
// A config or secret change makes new generated names, so the pod template
// changes and the Deployment rolls.
function rolls(overlay, file, what) {
  const before = render(path.join(k8sDir, overlay));
  const f = path.join(k8sDir, file);
  const saved = fs.readFileSync(f, "utf8");
  fs.appendFileSync(f, what);
  let after;
  try {
    after = render(path.join(k8sDir, overlay));
  } finally {
    fs.writeFileSync(f, saved);
  }
  const tpl = (objs) => JSON.stringify(objs.find((o) => o.kind === "Deployment" && o.metadata.name === "acexy").spec.template);
  return tpl(before) === tpl(after) ? [`changing ${file} leaves the acexy pod template as it was: no rollout`] : [];
}
report("a change to base/acexy.yaml rolls the pod", rolls("base", "base/acexy.yaml", "# changed\n"));
report("a change to orchestrator/secrets.env rolls the pod", rolls("overlays/orchestrator", "overlays/orchestrator/secrets.env", "rolled=1\n"));
console.log(`k8s: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
