// A minimal Kubernetes API server on 127.0.0.1 for `helm template
// --dry-run=server`: enough discovery for helm's client, and GET of the
// Secrets given on the command line, so the chart's `lookup` of an existing
// webhook Secret can be tested without a cluster.
//
// usage: node fake-apiserver.mjs PORTFILE LOGFILE [secret.json...]
//   writes the listening port to PORTFILE, logs "METHOD path status" lines
//   to LOGFILE, serves each secret.json (a v1 Secret) at
//   /api/v1/namespaces/<ns>/secrets/<name>. Exits after 60 s at the latest.
import http from 'node:http';
import fs from 'node:fs';

const [portFile, logFile, ...secretFiles] = process.argv.slice(2);
const secrets = new Map();
for (const f of secretFiles) {
  const s = JSON.parse(fs.readFileSync(f, 'utf8'));
  secrets.set(`/api/v1/namespaces/${s.metadata.namespace}/secrets/${s.metadata.name}`, s);
}

const groups = [
  ['apps', 'v1', [['deployments', 'Deployment', true]]],
  ['policy', 'v1', [['poddisruptionbudgets', 'PodDisruptionBudget', true]]],
  ['admissionregistration.k8s.io', 'v1', [['mutatingwebhookconfigurations', 'MutatingWebhookConfiguration', false]]],
  ['networking.k8s.io', 'v1', [['networkpolicies', 'NetworkPolicy', true]]],
];
const core = [
  ['secrets', 'Secret', true], ['configmaps', 'ConfigMap', true], ['services', 'Service', true],
  ['serviceaccounts', 'ServiceAccount', true], ['namespaces', 'Namespace', false], ['pods', 'Pod', true],
];
const resList = (gv, rs) => ({
  kind: 'APIResourceList', apiVersion: 'v1', groupVersion: gv,
  resources: rs.map(([name, kind, namespaced]) => ({
    name, singularName: kind.toLowerCase(), namespaced, kind,
    verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
  })),
});
const routes = new Map([
  ['/version', { major: '1', minor: '30', gitVersion: 'v1.30.0', platform: 'linux/amd64' }],
  ['/api', { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] }],
  ['/api/v1', resList('v1', core)],
  ['/apis', {
    kind: 'APIGroupList', apiVersion: 'v1',
    groups: groups.map(([g, v]) => ({
      name: g, versions: [{ groupVersion: `${g}/${v}`, version: v }],
      preferredVersion: { groupVersion: `${g}/${v}`, version: v },
    })),
  }],
]);
for (const [g, v, rs] of groups) routes.set(`/apis/${g}/${v}`, resList(`${g}/${v}`, rs));

const log = fs.openSync(logFile, 'a');
const server = http.createServer((req, res) => {
  const path = req.url.split('?')[0];
  let status = 200;
  let body = routes.get(path) || secrets.get(path);
  if (!body) {
    status = 404;
    body = { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404,
      message: `${path} not found` };
  }
  fs.writeSync(log, `${req.method} ${req.url} ${status}\n`);
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
});
server.listen(0, '127.0.0.1', () => fs.writeFileSync(portFile, String(server.address().port)));
setTimeout(() => process.exit(0), 60000).unref();
process.on('SIGTERM', () => process.exit(0));
