// Entry module of the core process. Electron starts it with utilityProcess.fork (messages on process.parentPort);
// the worker host and the tests start it in a worker thread (worker_threads.parentPort). Either way it serves the
// core-host protocol (core-service.ts) until main asks it to shut down, then lets main end the process.
import { parentPort as workerPort } from 'node:worker_threads';

import { serveCore, type CorePort } from './core-service.ts';

/** Electron's ParentPort, declared here so this file needs no electron import (it also runs under plain Node). */
interface UtilityParentPort {
  on(event: 'message', listener: (event: { data: unknown }) => void): unknown;
  postMessage(message: unknown): void;
}

function corePort(): CorePort {
  const utility = (process as { parentPort?: UtilityParentPort }).parentPort;
  if (utility) {
    return {
      postMessage: (message) => utility.postMessage(message),
      onMessage: (listener) => void utility.on('message', (event) => listener(event.data)),
    };
  }
  if (workerPort) {
    const port = workerPort;
    return {
      postMessage: (message) => port.postMessage(message),
      onMessage: (listener) => void port.on('message', listener),
    };
  }
  throw new Error('main/core-entry must run in an Electron utilityProcess or a worker thread');
}

await serveCore(corePort());
// Main ends the process once it has read 'closed'; this is only the backstop if it never does.
setTimeout(() => process.exit(0), 5_000).unref();
