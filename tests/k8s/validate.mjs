// Offline checks of deploy/k8s: renders the base and every overlay with `kubectl kustomize`,
// validates each object against the Kubernetes API schemas (npm kubernetes-models, and
// @kubernetes-models/keda for the ScaledObject) plus a strict pass that refuses fields the API
// does not define (a typo such as `readinesProbe` passes the schemas, which allow extra fields,
// but is silently dropped by a cluster), then checks the manifests against the server itself:
// probe paths, ports and setting names, and finally runs stargan-server with the base's settings
// to see the probes, the metrics scrape and the drain behave as the manifests expect.
// With STARGAN (the CLI) and the fixtures' checkpoints, the fetch-models and convert-models
// initContainer scripts of each target run too, on stand-in files served from file:// URLs.
// usage: node validate.mjs KUBECTL REPO STARGAN-SERVER TMPDIR [STARGAN FIXTURES]
// Prints "ok"/"FAIL" lines and "N passed, N failed"; exit 1 on any failure.
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as yaml from "js-yaml";

const [kubectl, repo, server, tmp, cli, fixtures] = process.argv.slice(2);
const here = path.dirname(fileURLToPath(import.meta.url));
const modules = path.join(here, "node_modules");
let pass = 0, fail = 0;
const ok = (m) => { pass++; console.log(`ok   ${m}`); };
const bad = (m) => { fail++; console.log(`FAIL ${m}`); };
const check = (m, cond, why = "") => (cond ? ok(m) : bad(why ? `${m}: ${why}` : m));

// ---- strict field check from the packages' TypeScript declarations -----------------------------
// Each model's .d.ts holds its interface: object literals, Array<...>, index signatures (maps)
// and references to other interfaces by import. Parsed into a small type tree, walked with the
// object: a key the type does not declare is an error.
const ifaceCache = new Map();
function resolveImport(fromFile, spec) {
  if (spec.startsWith(".")) return path.resolve(path.dirname(fromFile), spec + ".d.ts");
  return path.join(modules, spec + ".d.ts");
}
function parseDecl(file) {
  if (ifaceCache.has(file)) return ifaceCache.get(file);
  ifaceCache.set(file, { leaf: true }); // cycles (JSONSchemaProps) end as leaves
  const src = fs.readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const imports = new Map();
  for (const m of src.matchAll(/import\s*{([^}]*)}\s*from\s*"([^"]+)"/g))
    for (const name of m[1].split(",").map((s) => s.trim().split(/\s+as\s+/).pop()).filter(Boolean))
      imports.set(name, resolveImport(file, m[2]));
  const head = src.match(/export interface (\w+)[^{]*{/);
  if (!head) return ifaceCache.get(file); // a type alias (IntOrString, Quantity): a leaf
  let i = head.index + head[0].length - 1;
  const ws = () => { while (/\s/.test(src[i])) i++; };
  function leaf() { // up to the ; or closing bracket that ends this type, at depth 0
    let depth = 0, start = i;
    for (; i < src.length; i++) {
      const c = src[i];
      if ("<{([".includes(c)) depth++;
      else if (">})]".includes(c)) { if (depth === 0) break; depth--; }
      else if (c === ";" && depth === 0) break;
    }
    const t = src.slice(start, i).trim();
    return imports.has(t) ? { ref: imports.get(t) } : { leaf: true };
  }
  function type() {
    ws();
    if (src[i] === "{") return object();
    if (src.startsWith("Array<", i)) {
      i += 6;
      const item = type();
      ws();
      if (src[i] === ">") { i++; return { array: item }; }
      return { leaf: true };
    }
    return leaf();
  }
  function object() {
    i++; // {
    const props = new Map();
    let index = null;
    for (;;) {
      ws();
      if (src[i] === "}") { i++; break; }
      if (src[i] === "[") { // [key: string]: T
        i = src.indexOf("]", i) + 1; ws(); i++; // :
        index = type();
      } else {
        const m = /^"([^"]+)"\??\s*:/.exec(src.slice(i)) || /^(\w+)\??\s*:/.exec(src.slice(i));
        if (!m) { leaf(); if (src[i] === "}") { i++; break; } i++; continue; }
        i += m[0].length;
        props.set(m[1], type());
      }
      ws();
      if (src[i] === ";" || src[i] === ",") i++;
    }
    return { props, index };
  }
  const t = object();
  ifaceCache.set(file, t);
  return t;
}
function strict(value, t, at, errors) {
  if (value === null || value === undefined || t.leaf) return;
  if (t.ref) return strict(value, parseDecl(t.ref), at, errors);
  if (t.array) { if (Array.isArray(value)) value.forEach((v, k) => strict(v, t.array, `${at}[${k}]`, errors)); return; }
  if (t.props && typeof value === "object" && !Array.isArray(value))
    for (const [k, v] of Object.entries(value)) {
      const sub = t.props.get(k) || t.index;
      if (!sub) errors.push(`${at}.${k}: no such field`);
      else strict(v, sub, `${at}.${k}`, errors);
    }
}

// ---- models by apiVersion and kind -------------------------------------------------------------
function modelPath(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  if (group === "keda.sh") return path.join(modules, "@kubernetes-models/keda/keda.sh", version, kind);
  return path.join(modules, "kubernetes-models", group || "", version, kind);
}
async function validate(obj) {
  const base = modelPath(obj.apiVersion, obj.kind);
  if (!fs.existsSync(base + ".mjs")) return [`no schema for ${obj.apiVersion} ${obj.kind}`];
  const mod = await import(base + ".mjs");
  const errors = [];
  try { new mod[obj.kind](obj).validate(); } catch (e) { errors.push(String(e.message || e).slice(0, 400)); }
  strict(obj, parseDecl(base + ".d.ts"), obj.kind, errors);
  return errors;
}

// the schemas must refuse what a cluster refuses, or the checks below prove nothing
{
  const broken = {
    apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "x" },
    spec: { selector: { matchLabels: { a: "b" } }, template: { spec: { containers: [{ name: "c", readinesProbe: {} }] } } },
  };
  const typed = { apiVersion: "v1", kind: "Service", metadata: { name: "x" }, spec: { ports: [{ port: "eighty" }] } };
  const e1 = await validate(broken), e2 = await validate(typed);
  check("self-test: an unknown field and a wrong type are refused", e1.some((e) => e.includes("readinesProbe")) && e2.length > 0,
    JSON.stringify([e1, e2]));
}

// ---- the server's own names --------------------------------------------------------------------
const help = execFileSync(server, ["--help"], { encoding: "utf8" });
const serverEnv = new Set([...help.matchAll(/env (STARGAN_[A-Z_]+)/g)].map((m) => m[1]));
const serverDefault = (name) => (help.match(new RegExp(`env ${name}, default (\\S+)`)) || [])[1];
check(`stargan-server --help lists its settings (${serverEnv.size})`, serverEnv.has("STARGAN_DRAIN_DELAY") && serverEnv.has("STARGAN_LISTEN"));
// other variables the code reads (getenv("...") in the C sources)
const codeEnv = new Set();
for (const dir of ["net", "engine", "server", "model", "image", "styles", "generator", "faces", "cli"]) {
  const d = path.join(repo, dir);
  if (!fs.existsSync(d)) continue;
  for (const f of fs.readdirSync(d).filter((f) => f.endsWith(".c")))
    for (const m of fs.readFileSync(path.join(d, f), "utf8").matchAll(/getenv\("([A-Z0-9_]+)"\)/g)) codeEnv.add(m[1]);
}
// the routes the server serves (server/routes.c: the route table, {.path = "/...", .id = SG_ROUTE_...})
const routesSrc = fs.readFileSync(path.join(repo, "server/routes.c"), "utf8");
const routes = new Set([...routesSrc.matchAll(/\.path = "(\/[a-z0-9/]*)",\s*\.id = SG_ROUTE_/g)].map((m) => m[1]));
check(`server routes found (${[...routes].join(" ")})`, routes.has("/healthz") && routes.has("/readyz") && routes.has("/metrics"));

// ---- the initContainers' scripts, run here ----------------------------------------------------
// fetch-models with its file list pointed at stand-ins (file:// URLs: the fixtures' mini
// checkpoints under the release names), then convert-models with the CLI on PATH; the result
// must be a model file `stargan info` reads, and a second run must fetch and convert nothing.
function initScripts(t, docs, pod) {
  const stand = { "100000_nets_ema.ckpt": "ckpt/mini_nets_ema.legacy.ckpt", "wing.ckpt": "ckpt/wing_mini.legacy.ckpt",
                  "celeba_lm_mean.npz": "align/lm_mean.npz" };
  if (!cli || !fixtures || !Object.values(stand).every((f) => fs.existsSync(path.join(fixtures, f)))) {
    console.log(`skip ${t}: initContainer scripts (needs STARGAN and the fixtures' checkpoints)`);
    return;
  }
  const fetchC = pod.initContainers?.find((c) => c.name === "fetch-models");
  const convC = pod.initContainers?.find((c) => c.name === "convert-models");
  const vol = pod.volumes.find((v) => v.name === "fetch");
  const cm = vol && docs.find((d) => d.kind === "ConfigMap" && d.metadata.name === vol.configMap.name);
  if (!fetchC || !convC || !cm) return bad(`${t}: fetch-models, convert-models and their ConfigMap`);
  const dir = path.join(tmp, "init-" + t.replace(/\W+/g, "_"));
  fs.rmSync(dir, { recursive: true, force: true });
  const etc = path.join(dir, "etc"), models = path.join(dir, "models");
  fs.mkdirSync(etc, { recursive: true }); fs.mkdirSync(models);
  const lines = cm.data.files.split("\n").filter((l) => l.trim() && !l.trim().startsWith("#"));
  fs.writeFileSync(path.join(etc, "files"), lines.map((l) => {
    const [p] = l.trim().split(/\s+/);
    return `${p} file://${path.resolve(fixtures, stand[path.basename(p)] || "missing")}`;
  }).join("\n") + "\n");
  fs.writeFileSync(path.join(etc, "convert"), cm.data.convert);
  // the containers' scripts, with the volumes at their places under dir
  const relocate = (script) => script.replaceAll("/etc/stargan/fetch", etc).replaceAll("/models", models);
  const env = { ...process.env, HOSTNAME: "pod-1", PATH: `${path.dirname(path.resolve(cli))}:${process.env.PATH}` };
  const run = (c) => execFileSync(c.command[0], [...c.command.slice(1, -1), relocate(c.command.at(-1))],
    { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  try {
    const out1 = run(fetchC) + run(convC);
    const model = (docs.find((d) => d.kind === "ConfigMap" && d.data?.STARGAN_MODEL)?.data.STARGAN_MODEL || "").split("=").pop();
    const info = execFileSync(cli, ["info", "--model", model.replace("/models", models)], { encoding: "utf8" });
    const out2 = run(fetchC) + run(convC);
    check(`${t}: fetch-models + convert-models make ${path.basename(model)} (stargan info reads it), a second run only skips`,
      /fetched/.test(out1) && /domains|parameters/i.test(info) && !/fetched/.test(out2) && /have /.test(out2) &&
      fs.readdirSync(models).every((f) => !f.includes("pod-1")), out1 + out2);
  } catch (e) { bad(`${t}: initContainer scripts: ${String(e.stderr || e.message).slice(0, 400)}`); }
}

// ---- render and check every target -------------------------------------------------------------
const k8s = path.join(repo, "deploy/k8s");
const overlays = fs.readdirSync(path.join(k8s, "overlays")).filter((d) => fs.existsSync(path.join(k8s, "overlays", d, "kustomization.yaml")));
const targets = [".", ...overlays.map((d) => `overlays/${d}`)];
let baseDocs = null;
for (const t of targets) {
  let docs;
  try {
    const out = execFileSync(kubectl, ["kustomize", path.join(k8s, t)], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    docs = yaml.loadAll(out).filter(Boolean);
    ok(`${t}: kubectl kustomize renders ${docs.length} objects (${docs.map((d) => d.kind).sort().join(", ")})`);
  } catch (e) { bad(`${t}: kubectl kustomize: ${String(e.stderr || e).slice(0, 400)}`); continue; }
  // kustomize v5 wraps long base64 Secret data over lines; the API's decoder (Go's base64) skips
  // line breaks, the schema's "byte" format does not: compare the data as the API reads it
  for (const d of docs.filter((d) => d.kind === "Secret" && d.data))
    for (const k of Object.keys(d.data)) d.data[k] = d.data[k].replace(/\s+/g, "");
  if (t === ".") baseDocs = docs;
  for (const d of docs) {
    const errors = await validate(d);
    check(`${t}: ${d.kind}/${d.metadata?.name} valid against the API schema`, errors.length === 0, errors.join("; "));
  }
  const find = (kind, name) => docs.find((d) => d.kind === kind && (!name || d.metadata.name === name));
  const dep = find("Deployment");
  if (!dep) { bad(`${t}: no Deployment`); continue; }
  const pod = dep.spec.template.spec;
  const c = pod.containers.find((x) => x.name === "server") || pod.containers[0];
  const cms = (c.envFrom || []).filter((e) => e.configMapRef).map((e) => find("ConfigMap", e.configMapRef.name));
  check(`${t}: the server's ConfigMap exists`, cms.length > 0 && cms.every(Boolean));
  const env = Object.assign({}, ...cms.filter(Boolean).map((m) => m.data || {}), ...(c.env || []).map((e) => ({ [e.name]: e.value })));
  const unknown = Object.keys(env).filter((k) => (k.startsWith("STARGAN_") ? !serverEnv.has(k) : !codeEnv.has(k)));
  check(`${t}: every variable is one the server reads (${Object.keys(env).length})`, unknown.length === 0, `unknown: ${unknown.join(", ")}`);
  // ports: STARGAN_LISTEN, the container port, the probes, the Service, the scrape annotation
  const listenPort = Number((env.STARGAN_LISTEN || serverDefault("STARGAN_LISTEN") || "").split(":").pop());
  const portOf = (p) => (typeof p === "number" ? p : (c.ports || []).find((x) => x.name === p)?.containerPort);
  check(`${t}: containerPort = STARGAN_LISTEN's port (${listenPort}), on all interfaces`,
    (c.ports || []).some((p) => p.containerPort === listenPort) && /^(0\.0\.0\.0|\[::\]):/.test(env.STARGAN_LISTEN || ""));
  const probes = { startupProbe: "/readyz", readinessProbe: "/readyz", livenessProbe: "/healthz" };
  for (const [p, want] of Object.entries(probes)) {
    const g = c[p]?.httpGet;
    check(`${t}: ${p} GET ${g?.path} on port ${portOf(g?.port)}`, g && g.path === want && routes.has(g.path) && portOf(g.port) === listenPort,
      `want ${want} on ${listenPort}`);
  }
  const svc = find("Service");
  check(`${t}: Service selects the pods and targets the server's port`,
    svc && Object.entries(svc.spec.selector).every(([k, v]) => dep.spec.template.metadata.labels[k] === v) &&
    svc.spec.ports.every((p) => portOf(p.targetPort) === listenPort));
  const ann = dep.spec.template.metadata.annotations || {};
  check(`${t}: Prometheus annotations scrape ${ann["prometheus.io/path"]} on ${ann["prometheus.io/port"]}`,
    ann["prometheus.io/scrape"] === "true" && Number(ann["prometheus.io/port"]) === listenPort && routes.has(ann["prometheus.io/path"]));
  // shutdown: the kubelet's SIGKILL comes after the drain and the grace
  const drain = Number(env.STARGAN_DRAIN_DELAY ?? serverDefault("STARGAN_DRAIN_DELAY"));
  const grace = Number(env.STARGAN_GRACE ?? serverDefault("STARGAN_GRACE"));
  check(`${t}: terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} > drain ${drain} + grace ${grace}`,
    pod.terminationGracePeriodSeconds > drain + grace);
  // security
  const all = [...(pod.initContainers || []), ...pod.containers];
  check(`${t}: pod non-root, every container read-only root, no privilege escalation, capabilities dropped`,
    pod.securityContext?.runAsNonRoot === true && pod.securityContext.runAsUser > 0 &&
    all.every((x) => x.securityContext?.readOnlyRootFilesystem === true && x.securityContext.allowPrivilegeEscalation === false &&
      (x.securityContext.capabilities?.drop || []).includes("ALL")));
  check(`${t}: every container has CPU and memory requests and limits`,
    all.every((x) => ["cpu", "memory"].every((r) => x.resources?.requests?.[r] && x.resources?.limits?.[r])));
  check(`${t}: SG_THREADS (${env.SG_THREADS}) = the CPU limit (${c.resources.limits.cpu})`, Number(env.SG_THREADS) === Number(c.resources.limits.cpu));
  // files the settings name are on the volumes that hold them
  const mountFor = (file) => (c.volumeMounts || []).find((m) => file.startsWith(m.mountPath.replace(/\/?$/, "/")));
  const models = (env.STARGAN_MODEL || "").split(",").filter(Boolean).map((m) => m.split("=").pop());
  const modelFiles = [...models, env.STARGAN_FAN, env.STARGAN_MEAN].filter(Boolean);
  check(`${t}: model files (${modelFiles.join(" ")}) on the read-only models volume from a PVC`,
    modelFiles.length > 0 && modelFiles.every((f) => {
      const m = mountFor(f), v = m && pod.volumes.find((x) => x.name === m.name);
      return m && m.readOnly === true && v?.persistentVolumeClaim && find("PersistentVolumeClaim", v.persistentVolumeClaim.claimName);
    }));
  if (env.STARGAN_API_KEY_FILE) {
    const m = mountFor(env.STARGAN_API_KEY_FILE), v = m && pod.volumes.find((x) => x.name === m.name);
    const sec = v?.secret && find("Secret", v.secret.secretName);
    const key = env.STARGAN_API_KEY_FILE.slice(m ? m.mountPath.replace(/\/?$/, "/").length : 0);
    check(`${t}: STARGAN_API_KEY_FILE is key "${key}" of the Secret ${sec?.metadata.name}`, sec && sec.data && key in sec.data);
  }
  // scaling: exactly one autoscaler owns the Deployment
  const scalers = docs.filter((d) => d.kind === "HorizontalPodAutoscaler" || d.kind === "ScaledObject");
  check(`${t}: one autoscaler (${scalers.map((s) => s.kind).join(", ")}) targets the Deployment`,
    scalers.length === 1 && scalers[0].spec.scaleTargetRef.name === dep.metadata.name && scalers[0].spec.scaleTargetRef.kind === "Deployment");
  const pdb = find("PodDisruptionBudget");
  check(`${t}: PodDisruptionBudget selects the pods`,
    pdb && Object.entries(pdb.spec.selector.matchLabels).every(([k, v]) => dep.spec.template.metadata.labels[k] === v));
  initScripts(t, docs, pod);
  for (const so of docs.filter((d) => d.kind === "ScaledObject"))
    for (const tr of so.spec.triggers.filter((x) => x.type === "prometheus"))
      (globalThis.promQueries ||= []).push([t, tr.metadata.query]);
}

// ---- the server with the base's settings -------------------------------------------------------
async function live(docs) {
  const dep = docs.find((d) => d.kind === "Deployment"), c = dep.spec.template.spec.containers[0];
  const env = Object.assign({}, ...c.envFrom.map((e) => docs.find((d) => d.kind === "ConfigMap" && d.metadata.name === e.configMapRef.name).data));
  const secret = docs.find((d) => d.kind === "Secret");
  fs.mkdirSync(tmp, { recursive: true });
  const keys = Buffer.from(Object.values(secret.data)[0], "base64").toString();
  fs.writeFileSync(path.join(tmp, "keys"), keys);
  const key = keys.split("\n").map((l) => l.trim()).find((l) => l && !l.startsWith("#"));
  // loopback and the built-in demo model instead of the pod's address and volume; the rest as is
  const runEnv = { ...process.env, ...env, STARGAN_LISTEN: "127.0.0.1:0", STARGAN_API_KEY_FILE: path.join(tmp, "keys") };
  delete runEnv.STARGAN_MODEL; delete runEnv.STARGAN_FAN; delete runEnv.STARGAN_MEAN;
  const proc = spawn(server, [], { env: runEnv, stdio: ["ignore", "ignore", "pipe"] });
  let log = "", exited = null;
  proc.stderr.on("data", (b) => (log += b));
  const done = new Promise((r) => proc.on("exit", (code) => { exited = code; r(code); }));
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  try {
    let base = null;
    for (let k = 0; k < 300 && !base && exited === null; k++) { // ≤ 30 s
      const m = log.match(/listening on http:\/\/[0-9.]+:(\d+)/);
      if (m) base = `http://127.0.0.1:${m[1]}`; else await sleep(100);
    }
    if (!base) return bad(`live: the server did not start with the base's settings: ${log.slice(-400)}`);
    const get = async (p, headers = {}) => {
      try { const r = await fetch(base + p, { headers, signal: AbortSignal.timeout(5000) }); return { status: r.status, text: await r.text() }; }
      catch (e) { return { status: 0, text: String(e) }; }
    };
    let ready = 0;
    for (let k = 0; k < 600 && ready !== 200; k++) { ready = (await get(c.readinessProbe.httpGet.path)).status; if (ready !== 200) await sleep(100); }
    check(`live: readiness ${c.readinessProbe.httpGet.path} and startup ${c.startupProbe.httpGet.path} say 200 once loaded`,
      ready === 200 && (await get(c.startupProbe.httpGet.path)).status === 200);
    check(`live: liveness ${c.livenessProbe.httpGet.path} says 200`, (await get(c.livenessProbe.httpGet.path)).status === 200);
    const mpath = dep.spec.template.metadata.annotations["prometheus.io/path"];
    const noKey = await get(mpath), withKey = await get(mpath, { Authorization: `Bearer ${key}` });
    check(`live: ${mpath} needs the Secret's key (${noKey.status} without, ${withKey.status} with)`, noKey.status === 401 && withKey.status === 200);
    for (const [t, q] of globalThis.promQueries || []) {
      const names = [...q.matchAll(/\b(stargan_[a-z_]+)/g)].map((m) => m[1]);
      check(`live: ${t}: the KEDA query's metrics (${names.join(", ")}) are exported`,
        names.length > 0 && names.every((n) => new RegExp(`^${n}[ {]`, "m").test(withKey.text)));
    }
    // SIGTERM: not ready at once, still serving for the drain, exit 0 within the grace period
    const t0 = Date.now();
    proc.kill("SIGTERM");
    await sleep(300);
    const during = await get(c.readinessProbe.httpGet.path), alive = await get(c.livenessProbe.httpGet.path);
    check(`live: after SIGTERM readiness says ${during.status}, liveness ${alive.status} (draining)`, during.status === 503 && alive.status === 200);
    const limit = dep.spec.template.spec.terminationGracePeriodSeconds * 1000;
    await Promise.race([done, sleep(limit)]);
    const took = (Date.now() - t0) / 1000;
    check(`live: exits 0 after ${took.toFixed(1)} s (drain ${env.STARGAN_DRAIN_DELAY} s), within terminationGracePeriodSeconds`,
      exited === 0 && took * 1000 < limit && took >= Number(env.STARGAN_DRAIN_DELAY) - 0.5);
  } finally {
    if (exited === null) proc.kill("SIGKILL");
  }
}
if (baseDocs) await live(baseDocs);

console.log(`${pass} passed, ${fail} failed`);
process.exit(fail ? 1 : 0);
