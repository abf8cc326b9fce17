// Unknown-field check of rendered objects (what the API server's strict
// field validation rejects). kubernetes-models' validators check types and
// required fields but accept unknown keys, so this walks an object along the
// model's TypeScript declarations (.d.ts next to each model): every key must
// be a declared property; maps ({[key: string]: T}), arrays, inline objects
// and imported interfaces are followed; string/number/unions are leaves.
import fs from 'node:fs';
import path from 'node:path';

const cache = new Map(); // .d.ts path -> parsed type of its main interface

function stripComments(src) {
  return src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
}

// Resolve an import specifier of a .d.ts file to the .d.ts it names.
function resolveImport(from, spec, nodeModules) {
  let p = spec.startsWith('.') ? path.resolve(path.dirname(from), spec) : path.join(nodeModules, spec);
  p = p.replace(/\.js$/, '');
  return `${p}.d.ts`;
}

// A tiny recursive-descent parser of the type expressions these files use.
function parseType(s, i, imports) {
  const ws = () => {
    while (i < s.length && /\s/.test(s[i])) i++;
  };
  const parseOne = () => {
    ws();
    if (s[i] === '{') {
      i++;
      ws();
      if (s[i] === '[') {
        // index signature: { [key: string]: T; }
        const close = s.indexOf(']', i);
        i = s.indexOf(':', close) + 1;
        const r = parseType(s, i, imports);
        i = r.i;
        ws();
        if (s[i] === ';') i++;
        ws();
        if (s[i] !== '}') throw new Error(`parse: expected } at ${s.slice(i, i + 40)}`);
        i++;
        return { map: r.type };
      }
      const r = parseMembers(s, i, imports);
      i = r.i;
      return { object: r.members };
    }
    if (s[i] === '"') {
      const end = s.indexOf('"', i + 1);
      i = end + 1;
      return { leaf: true };
    }
    const m = /^[A-Za-z_$][\w$]*/.exec(s.slice(i));
    if (!m) throw new Error(`parse: unexpected ${s.slice(i, i + 40)}`);
    i += m[0].length;
    if (m[0] === 'Array' && s[i] === '<') {
      const r = parseType(s, i + 1, imports);
      i = r.i;
      ws();
      if (s[i] !== '>') throw new Error(`parse: expected > at ${s.slice(i, i + 40)}`);
      i++;
      return { array: r.type };
    }
    if (s[i] === '[') {
      // IConfigMap["kind"]
      i = s.indexOf(']', i) + 1;
      return { leaf: true };
    }
    if (imports.has(m[0])) return { ref: imports.get(m[0]) };
    return { leaf: true }; // string, number, boolean, any, TypeMeta...
  };
  let t = parseOne();
  ws();
  let union = false;
  while (s[i] === '|') {
    i++;
    parseOne();
    union = true;
    ws();
  }
  if (union) t = { leaf: true };
  return { type: t, i };
}

// Members of an interface body, from just after its '{' to its '}'.
function parseMembers(s, i, imports) {
  const members = new Map();
  for (;;) {
    while (i < s.length && /[\s;]/.test(s[i])) i++;
    if (s[i] === '}') return { members, i: i + 1 };
    const m = /^"([^"]*)"\??\s*:/.exec(s.slice(i));
    if (!m) throw new Error(`parse: expected a member at ${s.slice(i, i + 60)}`);
    i += m[0].length;
    const r = parseType(s, i, imports);
    members.set(m[1], r.type);
    i = r.i;
  }
}

function load(file, nodeModules) {
  if (cache.has(file)) return cache.get(file);
  const src = stripComments(fs.readFileSync(file, 'utf8'));
  const imports = new Map();
  for (const m of src.matchAll(/import\s*\{([^}]*)\}\s*from\s*"([^"]+)"/g)) {
    for (const name of m[1].split(',').map((x) => x.trim()).filter(Boolean)) {
      const alias = name.split(/\s+as\s+/).pop();
      if (m[2].startsWith('@kubernetes-models/base')) continue;
      imports.set(alias, resolveImport(file, m[2], nodeModules));
    }
  }
  const m = /export interface \w+(?:\s+extends\s+([\w,\s]+))?\s*\{/.exec(src);
  let type = { leaf: true }; // a type alias (IntOrString, Quantity, Time...)
  if (m) {
    const members = parseMembers(src, m.index + m[0].length, imports).members;
    type = { object: members };
    cache.set(file, type);
    // Members of the interfaces it extends (TypeMeta is apiVersion/kind).
    for (const base of (m[1] || '').split(',').map((x) => x.trim()).filter(Boolean)) {
      if (base === 'TypeMeta') {
        for (const k of ['apiVersion', 'kind']) members.set(k, { leaf: true });
        continue;
      }
      if (!imports.has(base)) throw new Error(`${file}: unknown base ${base}`);
      const b = load(imports.get(base), nodeModules);
      if (b.object) for (const [k, v] of b.object) if (!members.has(k)) members.set(k, v);
    }
  }
  cache.set(file, type);
  return type;
}

function walk(value, type, where, nodeModules, errors) {
  if (value === null || value === undefined) return;
  if (type.ref) type = load(type.ref, nodeModules);
  if (type.leaf) return;
  if (type.array) {
    if (Array.isArray(value)) value.forEach((v, k) => walk(v, type.array, `${where}[${k}]`, nodeModules, errors));
    return;
  }
  if (typeof value !== 'object' || Array.isArray(value)) return; // type errors: the validator's job
  if (type.map) {
    for (const [k, v] of Object.entries(value)) walk(v, type.map, `${where}.${k}`, nodeModules, errors);
    return;
  }
  for (const [k, v] of Object.entries(value)) {
    const t = type.object.get(k);
    if (!t) errors.push(`${where}.${k}: unknown field`);
    else walk(v, t, `${where}.${k}`, nodeModules, errors);
  }
}

// Unknown fields of obj, given the .js model file it validates against.
export function unknownFields(obj, modelJs, nodeModules) {
  const errors = [];
  walk(obj, { ref: modelJs.replace(/\.js$/, '.d.ts') }, obj.kind, nodeModules, errors);
  return errors;
}
