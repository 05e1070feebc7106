// Helpers for scripts/check_spz_interop.sh (not part of `make test`).
//   node spz_compare.mjs make-ply OUT.ply N            deterministic random Gaussians, SH degree 1
//   node spz_compare.mjs compare OURS.csv THEIRS.csv   values decoded by fresnel (RDF) vs splat-transform (raw)
// splat-transform decodes .spz without an axis conversion and we decode it as RUB (the spz README), so the
// comparison maps our values through RDF → RUB (y, z, the quaternion's y, z and the SH terms odd in y·z negate).
import fs from 'node:fs';

const [, , cmd, a, b] = process.argv;

if (cmd === 'make-ply') {
  const n = Number(b);
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const props = ['x', 'y', 'z', 'f_dc_0', 'f_dc_1', 'f_dc_2'];
  for (let i = 0; i < 9; i++) props.push(`f_rest_${i}`);
  props.push('opacity', 'scale_0', 'scale_1', 'scale_2', 'rot_0', 'rot_1', 'rot_2', 'rot_3');
  const header = `ply\nformat binary_little_endian 1.0\nelement vertex ${n}\n` +
    props.map((p) => `property float ${p}\n`).join('') + 'end_header\n';
  const data = new Float32Array(n * props.length);
  for (let i = 0; i < n; i++) {
    const q = [rand() - 0.5, rand() - 0.5, rand() - 0.5, rand() - 0.5];
    const qn = Math.hypot(...q);
    const row = [
      (rand() - 0.5) * 4, (rand() - 0.5) * 4, 2 + rand() * 2,                 // in front of a camera
      (rand() - 0.5) * 3, (rand() - 0.5) * 3, (rand() - 0.5) * 3,             // f_dc
      ...Array.from({ length: 9 }, () => (rand() - 0.5) * 1.6),                // f_rest inside [-0.8, 0.8]
      (rand() - 0.5) * 5,                                                      // opacity logit: alpha < 0.93
      Math.log(0.005 + rand() * 0.1), Math.log(0.005 + rand() * 0.1), Math.log(0.005 + rand() * 0.1),
      ...q.map((v) => v / qn),
    ];
    data.set(row, i * props.length);
  }
  fs.writeFileSync(a, Buffer.concat([Buffer.from(header, 'ascii'), Buffer.from(data.buffer)]));
  process.exit(0);
}

if (cmd !== 'compare') {
  console.error('usage: spz_compare.mjs make-ply OUT N | compare OURS.csv THEIRS.csv');
  process.exit(2);
}

const readCsv = (path) => {
  const lines = fs.readFileSync(path, 'utf8').trim().split('\n');
  const names = lines[0].split(',');
  return { names, rows: lines.slice(1).map((l) => l.split(',').map(Number)) };
};
const ours = readCsv(a);
const theirs = readCsv(b);
if (ours.rows.length !== theirs.rows.length) {
  console.log(`FAIL: ${ours.rows.length} vs ${theirs.rows.length} Gaussians`);
  process.exit(1);
}
// Sign of each column under RDF -> RUB; SH band-1 terms are (y, z, x): f_rest_{3c+k}, k = 0 y, 1 z, 2 x.
const flip = { y: -1, z: -1, rot_2: -1, rot_3: -1 };
for (let c = 0; c < 3; c++) { flip[`f_rest_${3 * c}`] = -1; flip[`f_rest_${3 * c + 1}`] = -1; }
const tolerance = { default: 2e-5, opacity: 1e-4 };
let worst = { err: 0 };
const perColumn = {};
for (let i = 0; i < ours.rows.length; i++) {
  const o = Object.fromEntries(ours.names.map((n, j) => [n, ours.rows[i][j]]));
  const t = Object.fromEntries(theirs.names.map((n, j) => [n, theirs.rows[i][j]]));
  // q and -q are one rotation: align signs before comparing.
  const dot = ['rot_0', 'rot_1', 'rot_2', 'rot_3'].reduce((s, r) => s + o[r] * (flip[r] ?? 1) * t[r], 0);
  for (const name of theirs.names) {
    if (!(name in o) || name.startsWith('n')) continue;
    let mine = o[name] * (flip[name] ?? 1);
    if (name.startsWith('rot_') && dot < 0) mine = -mine;
    const err = Math.abs(mine - t[name]) / Math.max(1, Math.abs(t[name]));
    perColumn[name] = Math.max(perColumn[name] ?? 0, err);
    if (err > worst.err) worst = { err, name, i, mine, theirs: t[name] };
  }
}
const bad = Object.entries(perColumn).filter(([n, e]) => e > (tolerance[n] ?? tolerance.default));
console.log(`${ours.rows.length} Gaussians, ${Object.keys(perColumn).length} columns; largest relative difference ` +
  `${worst.err.toExponential(2)} (${worst.name ?? '-'})`);
if (bad.length) {
  console.log('FAIL: ' + bad.map(([n, e]) => `${n} ${e.toExponential(2)}`).join(', '));
  process.exit(1);
}
console.log('OK: same values (after the RDF -> RUB axis map)');
