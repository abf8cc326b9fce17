// Writes what the netvol-webhook Deployment of a `helm template` output would
// see, so tests can run the real webhook with the chart's own config and TLS:
//   OUT/config.json  the ConfigMap's config.json
//   OUT/tls.crt, OUT/tls.key  from the TLS Secret
//   OUT/ca.crt       the MutatingWebhookConfiguration's caBundle
//   OUT/args         the container args, one per line
//   OUT/env          the container env, NAME=value per line
//   OUT/host         <service>.<namespace>.svc (the name the API server uses)
// usage: node extract.mjs TOOLS RENDERED.yaml OUT
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [tools, rendered, out] = process.argv.slice(2);
const YAML = await import(pathToFileURL(path.join(tools, 'node_modules/yaml/dist/index.js')).href);
const docs = YAML.parseAllDocuments(fs.readFileSync(rendered, 'utf8')).map((d) => d.toJS()).filter(Boolean);
const get = (kind) => {
  const o = docs.find((d) => d.kind === kind);
  if (!o) throw new Error(`no ${kind} in ${rendered}`);
  return o;
};
const w = (name, data) => fs.writeFileSync(path.join(out, name), data);
const c = get('Deployment').spec.template.spec.containers[0];
const secret = get('Secret');
const wh = get('MutatingWebhookConfiguration').webhooks[0];
w('config.json', get('ConfigMap').data['config.json']);
w('tls.crt', Buffer.from(secret.data['tls.crt'], 'base64'));
w('tls.key', Buffer.from(secret.data['tls.key'], 'base64'));
w('ca.crt', Buffer.from(wh.clientConfig.caBundle, 'base64'));
w('args', c.args.join('\n') + '\n');
w('env', (c.env || []).map((e) => `${e.name}=${e.value}`).join('\n') + '\n');
w('host', `${wh.clientConfig.service.name}.${wh.clientConfig.service.namespace}.svc\n`);
