// What the browser tests share: headless Chromium launched as this machine
// needs it, and the checks each test prints ("ok - ..." or "FAILED - ...")
// with the closing line "browser: N passed, M failed" (or another label).
import { chromium } from 'playwright-core';

// Headless Chromium from Debian (CHROMIUM overrides the path), with the
// background services off: they would try hosts this machine cannot reach.
export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    timeout: 30000,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export function assert(condition, message) {
  if (!condition) throw new Error(message);
}

// Counts the checks of one test run.
export class Checks {
  passed = 0;
  failed = 0;

  // `label` starts the closing line.
  constructor(label = 'browser') {
    this.label = label;
  }

  // Runs one named check; a throw fails it, and the run goes on.
  async check(name, fn) {
    try {
      await fn();
      this.passed += 1;
      console.log(`ok - ${name}`);
    } catch (e) {
      this.fail(name, e);
    }
  }

  fail(name, e) {
    this.failed += 1;
    console.log(`FAILED - ${name}: ${String(e.message ?? e).split('\n')[0]}`);
  }

  // Prints the closing line and exits, non-zero if any check failed.
  finish() {
    console.log(`${this.label}: ${this.passed} passed, ${this.failed} failed`);
    process.exit(this.failed === 0 ? 0 : 1);
  }
}
