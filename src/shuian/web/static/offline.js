// Manual readings entered without a network: kept in localStorage and sent when back online.

import { ApiError, postJSON } from "./api.js";

const QUEUE_KEY = "shuian.queue";
const listeners = new Set();

export function queued() {
  try {
    return JSON.parse(localStorage.getItem(QUEUE_KEY) || "[]");
  } catch {
    return [];
  }
}

function save(items) {
  localStorage.setItem(QUEUE_KEY, JSON.stringify(items));
  for (const listener of listeners) listener(items.length);
}

/** Call `listener(count)` when the queue changes. */
export function onQueueChange(listener) {
  listeners.add(listener);
}

function enqueue(readings) {
  save([...queued(), ...readings]);
}

/** A fetch that never reached the server (offline, DNS, refused), as opposed to an API error. */
function unreachable(error) {
  return !(error instanceof ApiError);
}

/**
 * Send manual readings; when offline keep them for later.
 *
 * Returns {queued: true} or the API's ingest report (accepted, duplicates, rejections).
 */
export async function sendReadings(readings) {
  if (!navigator.onLine) {
    enqueue(readings);
    return { queued: true };
  }
  try {
    return await postJSON("/api/readings", { readings });
  } catch (error) {
    if (unreachable(error)) {
      enqueue(readings);
      return { queued: true };
    }
    throw error;
  }
}

let flushing = false;

/** Send what is queued; what the API rejects is reported, not kept (the store keeps it). */
export async function flushQueue() {
  const items = queued();
  if (flushing || !items.length || !navigator.onLine) return null;
  flushing = true;
  try {
    const report = await postJSON("/api/readings", { readings: items });
    save(queued().slice(items.length));
    return { ...report, sent: items.length };
  } catch (error) {
    return unreachable(error) ? null : { error: error.message };
  } finally {
    flushing = false;
  }
}

window.addEventListener("online", () => {
  flushQueue().then((report) => {
    if (report) document.dispatchEvent(new CustomEvent("shuian:flushed", { detail: report }));
  });
});
