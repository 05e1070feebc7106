// Screenshot of a splat-transform viewer page in headless Chromium (scripts/viewer_screenshot.sh).
//   node viewer_screenshot.mjs PAGE.html OUT.png [CHROMIUM] [WAIT_MS]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const [, , page, out, exe = '/usr/bin/chromium', waitMs = '20000'] = process.argv;
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'fresnel-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: exe,
  headless: true,
  viewport: { width: 960, height: 720 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--enable-unsafe-swiftshader', '--use-angle=swiftshader'],
});
try {
  const tab = context.pages()[0] ?? await context.newPage();
  const errors = [];
  tab.on('pageerror', (e) => errors.push(String(e)));
  tab.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await tab.goto('file://' + path.resolve(page), { waitUntil: 'load', timeout: 120000 });
  await tab.waitForTimeout(Number(waitMs));  // the page decodes and sorts the splats, then renders progressively
  await tab.screenshot({ path: out });
  if (errors.length) console.log('page errors:\n  ' + errors.join('\n  '));
} finally {
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
