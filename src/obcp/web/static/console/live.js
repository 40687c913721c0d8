// A task, live: server-sent events from …/events; when the stream cannot be kept (a proxy that buffers, an
// old browser), the JSON endpoint every 2 s instead. `status` says which of the two is in use.
import { api } from "./api.js";

const POLL_MS = 2000;
const FAILURES_BEFORE_POLLING = 3;

// Calls onTask with each new state of the task; answers the function that stops watching.
export function watchTask(id, onTask, status) {
  let polling = null;
  let source = null;
  const startPolling = () => {
    if (polling) return;
    status.textContent = "live (polling)";
    polling = setInterval(async () => {
      try {
        onTask(await api("GET", `/api/v2/tasks/instances/${id}`));
      } catch (e) {
        status.textContent = "offline: " + e.message;
      }
    }, POLL_MS);
  };
  if (window.EventSource) {
    source = new EventSource(`/api/v2/tasks/instances/${id}/events`);
    let failures = 0;
    source.addEventListener("open", () => {
      status.textContent = "live";
      status.dataset.mode = "sse";
      failures = 0;
    });
    source.addEventListener("task", (e) => {
      failures = 0;
      onTask(JSON.parse(e.data));
    });
    source.addEventListener("error", () => {
      failures += 1;
      // The browser reconnects on its own (the server closes a stream after 5 minutes); give up only
      // when it stops trying or keeps failing.
      if (source.readyState === EventSource.CLOSED || failures >= FAILURES_BEFORE_POLLING) {
        source.close();
        status.dataset.mode = "polling";
        startPolling();
      } else {
        status.textContent = "reconnecting…";
      }
    });
  } else {
    startPolling();
  }
  return () => {
    clearInterval(polling);
    if (source) source.close();
  };
}
