// Polling for live views: one timer per view, paused while the tab is hidden, stopped by the
// cleanup the view returns to the router. A failed poll is reported once and polling goes on.

export function every(intervalMs, tick) {
  let stopped = false;
  let timer = null;
  const run = async () => {
    if (stopped) return;
    if (!document.hidden) {
      try {
        await tick();
      } catch (error) {
        console.warn("refresh failed", error);
      }
    }
    if (!stopped) timer = setTimeout(run, intervalMs);
  };
  timer = setTimeout(run, intervalMs);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

export function reportError(error) {
  window.dispatchEvent(new CustomEvent("kate:error", { detail: error }));
}
