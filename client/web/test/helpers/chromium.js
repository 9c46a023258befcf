// Headless Debian Chromium driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`:
// NUL-separated JSON on fds 3 and 4), so the browser test needs no driver dependency and downloads
// no browser.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const CHROMIUM_BIN = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';

export class Chromium {
  static async launch() {
    const browser = new Chromium();
    browser.profile = mkdtempSync(path.join(os.tmpdir(), 'meridian-chromium-'));
    browser.child = spawn(CHROMIUM_BIN, [
      '--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run', '--no-default-browser-check',
      '--remote-debugging-pipe', `--user-data-dir=${browser.profile}`, '--window-size=1100,900', 'about:blank',
    ], { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
    browser.stderr = '';
    browser.child.stderr.on('data', (d) => (browser.stderr += d));
    browser.nextId = 1;
    browser.pending = new Map();
    browser.events = [];
    let buffered = '';
    browser.child.stdio[4].on('data', (chunk) => {
      buffered += chunk.toString('utf8');
      let end;
      while ((end = buffered.indexOf('\0')) >= 0) {
        const message = JSON.parse(buffered.slice(0, end));
        buffered = buffered.slice(end + 1);
        const waiter = browser.pending.get(message.id);
        if (waiter) {
          browser.pending.delete(message.id);
          if (message.error) waiter.reject(new Error(`${waiter.method}: ${message.error.message}`));
          else waiter.resolve(message.result);
        } else if (message.method) {
          browser.events.push(message);
        }
      }
    });
    await browser.send('Browser.getVersion');
    return browser;
  }

  send(method, params = {}, sessionId) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, method });
      this.child.stdio[3].write(`${JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })}\0`);
    });
  }

  /** Opens `url` in a new tab; returns a page handle with `evaluate(expression)` and `screenshot()`. */
  async open(url) {
    const { targetId } = await this.send('Target.createTarget', { url });
    const { sessionId } = await this.send('Target.attachToTarget', { targetId, flatten: true });
    await this.send('Runtime.enable', {}, sessionId);
    const browser = this;
    return {
      async evaluate(expression) {
        const { result, exceptionDetails } = await browser.send(
          'Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true }, sessionId,
        );
        if (exceptionDetails) throw new Error(`${expression}: ${exceptionDetails.exception?.description ?? exceptionDetails.text}`);
        return result.value;
      },
      async screenshot() {
        const { data } = await browser.send('Page.captureScreenshot', { format: 'png' }, sessionId);
        return Buffer.from(data, 'base64');
      },
      consoleErrors() {
        return browser.events
          .filter((e) => e.sessionId === sessionId && e.method === 'Runtime.exceptionThrown')
          .map((e) => e.params.exceptionDetails?.exception?.description ?? e.params.exceptionDetails?.text);
      },
    };
  }

  close() {
    this.child.kill('SIGTERM');
    setTimeout(() => rmSync(this.profile, { recursive: true, force: true }), 500).unref();
  }
}
