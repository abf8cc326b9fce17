// Checks of a `helm template` output of the netvol chart.
//
// usage: node check.mjs TOOLS CASE RENDERED.yaml RELEASE NAMESPACE
//        node check.mjs TOOLS dump-secret RENDERED.yaml OUT.json RELEASE NAMESPACE
//
// TOOLS is tests/.tools/chart (kubernetes-models, yaml, cel-js). Every
// object is validated against the Kubernetes schemas (kubernetes-models; the
// cert-manager and prometheus-operator CRD models for Issuer, Certificate,
// ServiceMonitor), then CASE's assertions run. Prints "ok"/"FAIL" per check
// and exits 1 when one failed. Unknown fields are rejected too (strict.mjs).
// dump-secret writes the webhook TLS Secret as a live object (with helm's
// ownership metadata) for fake-apiserver.mjs.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';

const [tools, caseName, renderedFile, ...rest] = process.argv.slice(2);
const mod = (p) => import(pathToFileURL(path.join(tools, 'node_modules', p)).href);
const YAML = await mod('yaml/dist/index.js');
const { evaluate } = await mod('@marcbachmann/cel-js/lib/index.js');
const { unknownFields } = await import(new URL('./strict.mjs', import.meta.url).href);

const docs = YAML.parseAllDocuments(fs.readFileSync(renderedFile, 'utf8'))
  .map((d) => {
    if (d.errors.length) throw new Error(`YAML error: ${d.errors[0].message}`);
    return d.toJS();
  })
  .filter((o) => o !== null);

let passed = 0;
let failed = 0;
async function t(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok   ${caseName}: ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${caseName}: ${name}: ${e.message}`);
  }
}
function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}
function eq(got, want, what) {
  const g = JSON.stringify(got);
  const w = JSON.stringify(want);
  if (g !== w) throw new Error(`${what}: got ${g}, want ${w}`);
}
const all = (kind) => docs.filter((o) => o.kind === kind);
function one(kind, name) {
  const l = all(kind).filter((o) => !name || o.metadata.name === name);
  assert(l.length === 1, `want exactly one ${kind}${name ? ' ' + name : ''}, got ${l.length}`);
  return l[0];
}
const matches = (sel, labels) =>
  Object.entries(sel || {}).every(([k, v]) => labels && labels[k] === v);

// Where the model of an apiVersion/kind lives.
function modelPath(apiVersion, kind) {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  if (group === '') return `kubernetes-models/${version}/${kind}.js`;
  if (group === 'cert-manager.io') return `@kubernetes-models/cert-manager/${group}/${version}/${kind}.js`;
  if (group === 'monitoring.coreos.com')
    return `@kubernetes-models/prometheus-operator/${group}/${version}/${kind}.js`;
  return `kubernetes-models/${group}/${version}/${kind}.js`;
}

async function validateAll() {
  for (const o of docs) {
    await t(`schema ${o.kind}/${o.metadata && o.metadata.name}`, async () => {
      assert(o.apiVersion && o.kind, 'apiVersion and kind are required');
      assert(o.metadata && o.metadata.name, 'metadata.name is required');
      let m;
      try {
        m = await mod(modelPath(o.apiVersion, o.kind));
      } catch {
        throw new Error(`no schema for ${o.apiVersion} ${o.kind}`);
      }
      const Model = m[o.kind];
      assert(Model, `no model class ${o.kind}`);
      eq(o.apiVersion, Model.apiVersion, 'apiVersion');
      new Model(o).validate(); // throws with the failing path
      const unknown = unknownFields(o, path.join(tools, 'node_modules', modelPath(o.apiVersion, o.kind)),
        path.join(tools, 'node_modules'));
      assert(unknown.length === 0, unknown.join('; '));
    });
  }
}

// Assertions every rendering must pass.
async function common(release, ns) {
  const web = `${release.includes('netvol') ? release : release + '-netvol'}-webhook`;
  await t('every object carries the app.kubernetes.io labels', () => {
    for (const o of docs) {
      const l = o.metadata.labels || {};
      for (const k of ['name', 'instance', 'version', 'managed-by', 'part-of'])
        assert(l[`app.kubernetes.io/${k}`], `${o.kind}/${o.metadata.name} lacks app.kubernetes.io/${k}`);
      eq(l['app.kubernetes.io/instance'], release, `${o.kind} instance label`);
    }
  });
  await t('namespaced objects are in the release namespace', () => {
    for (const o of docs) {
      if (o.kind === 'MutatingWebhookConfiguration') {
        assert(!o.metadata.namespace, 'MutatingWebhookConfiguration is cluster-scoped');
        continue;
      }
      eq(o.metadata.namespace, ns, `${o.kind}/${o.metadata.name} namespace`);
    }
  });

  const dep = one('Deployment', web);
  const pod = dep.spec.template;
  const c = pod.spec.containers[0];
  await t('deployment selector matches its pods', () => {
    assert(matches(dep.spec.selector.matchLabels, pod.metadata.labels), 'selector does not match');
  });
  await t('webhook command line is the contract', () => {
    eq(pod.spec.containers.length, 1, 'containers');
    eq(c.args, ['--listen', ':8443', '--tls-cert', '/etc/netvol/tls/tls.crt', '--tls-key',
      '/etc/netvol/tls/tls.key', '--config', '/etc/netvol/config.json', '--shutdown-delay', '5'], 'args');
    const env = Object.fromEntries((c.env || []).map((e) => [e.name, e.value]));
    assert(['text', 'json'].includes(env.NETVOL_LOG_FORMAT), `NETVOL_LOG_FORMAT ${env.NETVOL_LOG_FORMAT}`);
    assert(['debug', 'info', 'warn', 'error'].includes(env.NETVOL_LOG_LEVEL), 'NETVOL_LOG_LEVEL');
  });
  await t('probes are HTTPS /healthz and /readyz on 8443', () => {
    const port = c.ports.find((p) => p.name === 'https');
    eq(port.containerPort, 8443, 'containerPort');
    eq([c.livenessProbe.httpGet.path, c.livenessProbe.httpGet.scheme], ['/healthz', 'HTTPS'], 'liveness');
    eq([c.readinessProbe.httpGet.path, c.readinessProbe.httpGet.scheme], ['/readyz', 'HTTPS'], 'readiness');
    for (const p of [c.livenessProbe, c.readinessProbe])
      assert(p.httpGet.port === 'https' || p.httpGet.port === 8443, 'probe port');
  });
  await t('pod and container are locked down', () => {
    const ps = pod.spec.securityContext;
    const cs = c.securityContext;
    eq(ps.runAsNonRoot, true, 'pod runAsNonRoot');
    eq(ps.seccompProfile, { type: 'RuntimeDefault' }, 'pod seccompProfile');
    eq(cs.runAsNonRoot, true, 'runAsNonRoot');
    assert(cs.runAsUser > 0, 'runAsUser must not be root');
    eq(cs.readOnlyRootFilesystem, true, 'readOnlyRootFilesystem');
    eq(cs.allowPrivilegeEscalation, false, 'allowPrivilegeEscalation');
    eq(cs.capabilities, { drop: ['ALL'] }, 'capabilities');
    eq(cs.seccompProfile, { type: 'RuntimeDefault' }, 'seccompProfile');
    eq(pod.spec.automountServiceAccountToken, false, 'automountServiceAccountToken');
    assert(c.resources && c.resources.requests && c.resources.limits, 'resources');
  });
  await t('config and TLS are mounted where the args point', () => {
    const vols = Object.fromEntries(pod.spec.volumes.map((v) => [v.name, v]));
    const cfg = c.volumeMounts.find((m) => m.mountPath === '/etc/netvol/config.json');
    const tls = c.volumeMounts.find((m) => m.mountPath === '/etc/netvol/tls');
    assert(cfg && tls, 'mounts missing');
    eq(cfg.subPath, 'config.json', 'config subPath');
    assert(!tls.subPath, 'the TLS mount must be a directory (rotation)');
    const cm = one('ConfigMap', vols[cfg.name].configMap.name);
    assert(cm.data['config.json'], 'ConfigMap lacks config.json');
    const secretName = vols[tls.name].secret.secretName;
    eq(secretName, `${web}-tls`, 'TLS secret name');
    const mode = vols[tls.name].secret.defaultMode;
    assert(mode === undefined || (mode & 0o444) === 0o444 || pod.spec.securityContext.fsGroup,
      'TLS files unreadable for a non-root user');
  });
  await t('service 443 reaches container port 8443', () => {
    const svc = one('Service', web);
    assert(matches(svc.spec.selector, pod.metadata.labels), 'service selector does not match the pods');
    const p = svc.spec.ports[0];
    assert(p.targetPort === 'https' || p.targetPort === 8443, `targetPort ${p.targetPort}`);
  });
  const mwc = one('MutatingWebhookConfiguration');
  const wh = mwc.webhooks[0];
  await t('webhook registration basics', () => {
    eq(mwc.webhooks.length, 1, 'webhooks');
    eq(wh.admissionReviewVersions, ['v1'], 'admissionReviewVersions');
    eq(wh.sideEffects, 'None', 'sideEffects');
    eq(wh.rules, [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'],
      scope: 'Namespaced' }], 'rules');
    const svc = one('Service', web);
    eq(wh.clientConfig.service, { name: svc.metadata.name, namespace: ns, path: '/mutate',
      port: svc.spec.ports[0].port }, 'clientConfig.service');
    assert(wh.timeoutSeconds >= 1 && wh.timeoutSeconds <= 30, 'timeoutSeconds');
  });
  await t('own namespace and kube-system are never mutated', () => {
    const ex = (wh.namespaceSelector.matchExpressions || []).filter(
      (e) => e.key === 'kubernetes.io/metadata.name' && e.operator === 'NotIn');
    assert(ex.length === 1, 'no NotIn expression on kubernetes.io/metadata.name');
    assert(ex[0].values.includes(ns), `${ns} not excluded`);
    assert(ex[0].values.includes('kube-system'), 'kube-system not excluded');
  });
  const cfg = JSON.parse(one('ConfigMap', web).data['config.json']);
  await t('config.json has exactly the contract keys', () => {
    eq(Object.keys(cfg).sort(), ['envName', 'restoreSync', 'workspaceVolume'], 'top keys');
    eq(Object.keys(cfg.restoreSync).sort(), ['dataVolume', 'enabled', 'image', 'imagePullPolicy',
      'podIdFromPodName', 'resources', 'runAsUser', 'storeSecret'], 'restoreSync keys');
    assert(typeof cfg.restoreSync.enabled === 'boolean', 'enabled must be a boolean');
    assert(typeof cfg.restoreSync.podIdFromPodName === 'boolean', 'podIdFromPodName must be a boolean');
    assert(cfg.restoreSync.runAsUser === null || Number.isInteger(cfg.restoreSync.runAsUser),
      'runAsUser must be null or an integer');
    assert(/^[^\s:]+(:[^\s:]+)?$/.test(cfg.restoreSync.image.split('/').pop()), 'image repo:tag');
  });
  if (wh.matchConditions) {
    await t('matchConditions let exactly the workspace pods through', () => {
      const vol = cfg.workspaceVolume;
      const cases = [
        [{ metadata: {}, spec: {} }, false],
        [{ metadata: {}, spec: { volumes: [{ name: 'other' }] } }, false],
        [{ metadata: {}, spec: { volumes: [{ name: 'a' }, { name: vol }] } }, true],
        [{ metadata: { annotations: { 'netvol.io/workspace-volume': 'other' } },
          spec: { volumes: [{ name: 'other' }] } }, true],
        [{ metadata: { annotations: { x: 'y' } }, spec: { volumes: [{ name: vol }] } }, true],
        [{ metadata: { annotations: { 'netvol.io/inject': 'false' } }, spec: { volumes: [{ name: vol }] } }, false],
        [{ metadata: { annotations: { 'netvol.io/inject': 'true' } }, spec: { volumes: [{ name: vol }] } }, true],
      ];
      for (const [pod, want] of cases) {
        const got = wh.matchConditions.every((mc) => evaluate(mc.expression, { object: pod }) === true);
        eq(got, want, `pod ${JSON.stringify(pod)}`);
      }
    });
  }
  return { web, dep, pod, c, mwc, wh, cfg };
}

function pem(b64) {
  return Buffer.from(b64, 'base64').toString('utf8');
}
function openssl(args, input) {
  return execFileSync('openssl', args, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
}

// The generated CA must be the one in caBundle and must have signed the
// serving certificate, which names the Service and holds the key's pair.
async function generatedTls(ctx, ns) {
  const sec = one('Secret', `${ctx.web}-tls`);
  const d = sec.data;
  await t('TLS secret holds tls.crt, tls.key, ca.crt', () => {
    eq(sec.type, 'kubernetes.io/tls', 'type');
    for (const k of ['tls.crt', 'tls.key', 'ca.crt']) assert(d[k], `no ${k}`);
  });
  await t('caBundle is the secret ca.crt', () => eq(ctx.wh.clientConfig.caBundle, d['ca.crt'], 'caBundle'));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netvol-helm-'));
  try {
    fs.writeFileSync(path.join(dir, 'ca.pem'), pem(ctx.wh.clientConfig.caBundle));
    fs.writeFileSync(path.join(dir, 'cert.pem'), pem(d['tls.crt']));
    fs.writeFileSync(path.join(dir, 'key.pem'), pem(d['tls.key']));
    await t('openssl verify: caBundle CA signed the serving cert', () => {
      const out = openssl(['verify', '-purpose', 'sslserver', '-CAfile', path.join(dir, 'ca.pem'),
        path.join(dir, 'cert.pem')]);
      assert(/: OK/.test(out), out);
    });
    await t('openssl verify fails with another CA (the check can fail)', () => {
      openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'o.key'),
        '-out', path.join(dir, 'other.pem'), '-subj', '/CN=other', '-days', '1']);
      let ok = true;
      try {
        openssl(['verify', '-CAfile', path.join(dir, 'other.pem'), path.join(dir, 'cert.pem')]);
      } catch {
        ok = false;
      }
      assert(!ok, 'verify passed with an unrelated CA');
    });
    await t('serving cert names the Service and matches its key', () => {
      const san = openssl(['x509', '-noout', '-ext', 'subjectAltName', '-in', path.join(dir, 'cert.pem')]);
      for (const n of [`${ctx.web}.${ns}.svc`, `${ctx.web}.${ns}.svc.cluster.local`, `${ctx.web}.${ns}`])
        assert(san.includes(`DNS:${n}`), `SAN lacks ${n}: ${san}`);
      const a = openssl(['x509', '-noout', '-pubkey', '-in', path.join(dir, 'cert.pem')]);
      const b = openssl(['pkey', '-pubout', '-in', path.join(dir, 'key.pem')]);
      eq(a, b, 'public key of cert vs key');
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const cases = {
  async default(release, ns) {
    const ctx = await common(release, ns);
    await t('default objects, nothing optional', () => {
      eq(docs.map((o) => o.kind).sort(), ['ConfigMap', 'Deployment', 'MutatingWebhookConfiguration',
        'PodDisruptionBudget', 'Secret', 'Service', 'ServiceAccount'], 'kinds');
    });
    await t('default webhook settings', () => {
      eq(ctx.wh.failurePolicy, 'Ignore', 'failurePolicy');
      eq(ctx.wh.timeoutSeconds, 5, 'timeoutSeconds');
      eq(ctx.wh.reinvocationPolicy, 'IfNeeded', 'reinvocationPolicy');
      eq(ctx.wh.namespaceSelector.matchLabels, { 'netvol.io/inject': 'enabled' }, 'matchLabels');
      assert(!ctx.wh.objectSelector, 'no objectSelector by default');
      assert(ctx.wh.matchConditions && ctx.wh.matchConditions.length === 2, 'matchConditions');
      assert(!(ctx.mwc.metadata.annotations || {})['cert-manager.io/inject-ca-from'], 'no cert-manager');
    });
    await t('default config.json', () => {
      eq(ctx.cfg, { envName: '_NETWORK_VOLUME', restoreSync: { dataVolume: 'data', enabled: false,
        image: 'netvol/netvol-init:0.1.0', imagePullPolicy: 'IfNotPresent', podIdFromPodName: false,
        resources: { limits: { memory: '512Mi' }, requests: { cpu: '100m', memory: '128Mi' } },
        runAsUser: null, storeSecret: 'netvol-store' }, workspaceVolume: 'workspace' }, 'config');
    });
    await t('2 replicas, PDB, anti-affinity, no service account token', () => {
      eq(ctx.dep.spec.replicas, 2, 'replicas');
      const pdb = one('PodDisruptionBudget');
      eq(pdb.spec.minAvailable, 1, 'minAvailable');
      assert(matches(pdb.spec.selector.matchLabels, ctx.pod.metadata.labels), 'PDB selects no pod');
      const aa = ctx.pod.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0];
      eq(aa.podAffinityTerm.topologyKey, 'kubernetes.io/hostname', 'topologyKey');
      assert(matches(aa.podAffinityTerm.labelSelector.matchLabels, ctx.pod.metadata.labels), 'anti-affinity');
      eq(one('ServiceAccount').automountServiceAccountToken, false, 'SA automount');
    });
    await generatedTls(ctx, ns);
  },

  async certmanager(release, ns) {
    const ctx = await common(release, ns);
    await t('cert-manager objects instead of a generated Secret', () => {
      eq(all('Secret').length, 0, 'Secrets');
      eq(all('Issuer').length, 2, 'Issuers');
      eq(all('Certificate').length, 2, 'Certificates');
      assert(!ctx.wh.clientConfig.caBundle, 'caBundle must be left to cainjector');
    });
    await t('self-signed -> CA certificate -> CA issuer -> serving certificate', () => {
      const self = all('Issuer').find((i) => i.spec.selfSigned);
      const caIss = all('Issuer').find((i) => i.spec.ca);
      assert(self && caIss, 'need a selfSigned and a ca Issuer');
      const caCert = all('Certificate').find((c) => c.spec.isCA);
      const serving = all('Certificate').find((c) => !c.spec.isCA);
      eq(caCert.spec.issuerRef.name, self.metadata.name, 'CA certificate issuer');
      eq(caIss.spec.ca.secretName, caCert.spec.secretName, 'CA issuer secret');
      eq(serving.spec.issuerRef.name, caIss.metadata.name, 'serving certificate issuer');
      eq(serving.spec.secretName, `${ctx.web}-tls`, 'serving secret = the mounted one');
      for (const n of [`${ctx.web}.${ns}.svc`, `${ctx.web}.${ns}.svc.cluster.local`])
        assert(serving.spec.dnsNames.includes(n), `dnsNames lacks ${n}`);
      assert(serving.spec.usages.includes('server auth'), 'usages');
      const ann = ctx.mwc.metadata.annotations['cert-manager.io/inject-ca-from'];
      eq(ann, `${ns}/${serving.metadata.name}`, 'inject-ca-from');
    });
    await t('ServiceMonitor scrapes /metrics over HTTPS with the CA', () => {
      const sm = one('ServiceMonitor');
      const svc = one('Service', ctx.web);
      assert(matches(sm.spec.selector.matchLabels, svc.metadata.labels), 'selects no Service');
      const ep = sm.spec.endpoints[0];
      assert(svc.spec.ports.some((p) => p.name === ep.port), `no Service port ${ep.port}`);
      eq([ep.path, ep.scheme], ['/metrics', 'https'], 'path/scheme');
      eq(ep.tlsConfig.ca.secret, { name: `${ctx.web}-tls`, key: 'ca.crt' }, 'tlsConfig.ca');
      eq(ep.tlsConfig.serverName, `${ctx.web}.${ns}.svc`, 'serverName');
    });
    await t('NetworkPolicy: only 8443 in, nothing out', () => {
      const np = one('NetworkPolicy');
      assert(matches(np.spec.podSelector.matchLabels, ctx.pod.metadata.labels), 'selects no pod');
      eq(np.spec.policyTypes, ['Ingress', 'Egress'], 'policyTypes');
      eq(np.spec.ingress.map((r) => r.ports), [[{ port: 8443, protocol: 'TCP' }]], 'ingress ports');
      eq(np.spec.egress, [], 'egress');
    });
  },

  async full(release, ns) {
    const ctx = await common(release, ns);
    await t('full injection config.json', () => {
      eq(ctx.cfg, { envName: '_NETWORK_VOLUME', restoreSync: { dataVolume: 'pod-data', enabled: true,
        image: 'registry.example.test/team/netvol-init:1.2.3', imagePullPolicy: 'Always',
        podIdFromPodName: true, resources: { limits: { memory: '1Gi' }, requests: { cpu: '250m',
          memory: '256Mi' } }, runAsUser: 1337, storeSecret: 'comfy-store' }, workspaceVolume: 'ws' },
        'config');
    });
    await t('custom selectors, policies and exclusions', () => {
      const wh = ctx.wh;
      eq(wh.failurePolicy, 'Fail', 'failurePolicy');
      eq(wh.timeoutSeconds, 10, 'timeoutSeconds');
      eq(wh.reinvocationPolicy, 'Never', 'reinvocationPolicy');
      eq(wh.namespaceSelector.matchLabels, { team: 'comfy' }, 'matchLabels');
      eq(wh.namespaceSelector.matchExpressions[0],
        { key: 'tier', operator: 'In', values: ['gpu', 'cpu'] }, 'user expression kept');
      const notIn = wh.namespaceSelector.matchExpressions.find((e) => e.operator === 'NotIn');
      eq(notIn.values, [ns, 'kube-system', 'monitoring'], 'NotIn values');
      eq(wh.objectSelector, { matchLabels: { app: 'comfyui' } }, 'objectSelector');
      assert(wh.matchConditions[0].expression.includes("v.name == 'ws'"), 'CEL uses the volume name');
    });
    await t('3 replicas, hard anti-affinity, text logs', () => {
      eq(ctx.dep.spec.replicas, 3, 'replicas');
      const aa = ctx.pod.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0];
      eq(aa.topologyKey, 'kubernetes.io/hostname', 'topologyKey');
      eq(ctx.c.env.find((e) => e.name === 'NETVOL_LOG_FORMAT').value, 'text', 'log format');
      eq(ctx.c.image, 'registry.example.test/team/netvol-webhook:9.9.9', 'image');
    });
    await generatedTls(ctx, ns);
  },

  // Reuse through lookup: the Secret given to the fake API server must come
  // out unchanged, and its ca.crt must be the caBundle.
  async reuse(release, ns) {
    const ctx = await common(release, ns);
    const want = JSON.parse(fs.readFileSync(rest[2], 'utf8')).data;
    await t('existing secret reused as is', () => eq(one('Secret', `${ctx.web}-tls`).data, want, 'data'));
    await t('caBundle is the existing ca.crt', () => eq(ctx.wh.clientConfig.caBundle, want['ca.crt'], 'ca'));
  },

  // An incomplete existing Secret (no ca.crt) is replaced by a new pair.
  async regenerate(release, ns) {
    const ctx = await common(release, ns);
    const old = JSON.parse(fs.readFileSync(rest[2], 'utf8')).data;
    await t('incomplete secret regenerated', () => {
      assert(one('Secret', `${ctx.web}-tls`).data['tls.crt'] !== old['tls.crt'], 'tls.crt kept');
    });
    await generatedTls(ctx, ns);
  },
};

if (caseName === 'dump-secret') {
  const [out, release, ns] = rest;
  const s = all('Secret')[0];
  s.metadata.labels['app.kubernetes.io/managed-by'] = 'Helm';
  s.metadata.annotations = { 'meta.helm.sh/release-name': release, 'meta.helm.sh/release-namespace': ns };
  fs.writeFileSync(out, JSON.stringify(s));
  process.exit(0);
}
const fn = cases[caseName];
if (!fn) {
  console.error(`check.mjs: unknown case '${caseName}'`);
  process.exit(2);
}
await validateAll();
await fn(rest[0], rest[1]);
console.log(`check ${caseName}: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
