// Does the webhook's full-injection patch fit the init image?
// usage: node fits-image.mjs PATCH.json IMAGE_FILES
//   PATCH.json   the JSONPatch of an AdmissionReview response (decoded)
//   IMAGE_FILES  the files of the init image, one path per line (the COPY
//                destinations of Dockerfile.init's final stage)
// Checks: the init container's command is a file of the image; no volume is
// mounted on or under a file of the image (a runtime can't create a mount
// point below a regular file); the preStop command lies in a volume the app
// container mounts. Prints the problems and exits 1, or exits 0.
import fs from 'node:fs';

const [patchFile, filesFile] = process.argv.slice(2);
const files = fs.readFileSync(filesFile, 'utf8').split('\n').filter(Boolean);
const patch = JSON.parse(fs.readFileSync(patchFile, 'utf8'));
const errs = [];
const initOp = patch.find((op) => op.path === '/spec/initContainers' || op.path.startsWith('/spec/initContainers/'));
const inits = initOp ? [].concat(initOp.value) : [];
const init = inits.find((c) => c.name === 'netvol-restore');
if (!init) {
  errs.push('no netvol-restore init container in the patch');
} else {
  if (!files.includes(init.command[0])) errs.push(`init command ${init.command[0]} is not in the image (${files})`);
  for (const m of init.volumeMounts || [])
    for (const f of files)
      if (m.mountPath === f || m.mountPath.startsWith(f + '/'))
        errs.push(`init container mounts ${m.name} at ${m.mountPath}, on or under the image file ${f}`);
}
const mounts = patch.filter((op) => /^\/spec\/containers\/0\/volumeMounts/.test(op.path)).map((op) => op.value).flat();
const lc = patch.find((op) => op.path === '/spec/containers/0/lifecycle');
const pre = lc && lc.value.preStop && lc.value.preStop.exec.command[0];
if (!pre) errs.push('no preStop hook on the app container');
else if (!mounts.some((m) => pre.startsWith(m.mountPath + '/'))) errs.push(`preStop ${pre} is in no mounted volume`);
if (errs.length) {
  console.error(errs.join('\n'));
  process.exit(1);
}
