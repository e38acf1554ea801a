/**
 * The dashboard's HTML shell. Everything live is filled in by the page script
 * (page.ts, bundled with the client SDK), which writes row values as text only.
 */
export const DASHBOARD_SCRIPT_PATH = '/dashboard/dashboard.js';

/** No inline script and nothing from elsewhere: a row value that slipped into markup could not run. */
export const DASHBOARD_CSP =
  "default-src 'none'; script-src 'self'; connect-src 'self' ws: wss:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'";

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Rowcast — live changes</title>
<style>
  :root { --bg: #0f172a; --panel: #ffffff; --muted: #64748b; --line: #e2e8f0; font-family: system-ui, sans-serif; }
  body { margin: 0; background: #f1f5f9; color: #0f172a; }
  header { display: flex; align-items: center; gap: 1rem; padding: .75rem 1.25rem; background: var(--bg); color: #fff; }
  header h1 { font-size: 1.1rem; margin: 0; }
  .indicator { padding: .15rem .6rem; border-radius: 999px; font-weight: 600; font-size: .85rem; }
  .indicator.online { background: #16a34a; }
  .indicator.offline { background: #dc2626; }
  #connection-detail { color: #cbd5e1; font-size: .85rem; }
  #login { margin: 1.25rem; padding: 1rem; background: var(--panel); border: 1px solid var(--line); border-radius: .5rem; max-width: 40rem; }
  #login input { width: 100%; box-sizing: border-box; margin: .5rem 0; font-family: monospace; }
  #login-error { color: #dc2626; }
  #tables { display: grid; grid-template-columns: repeat(auto-fill, minmax(22rem, 1fr)); gap: 1rem; padding: 1.25rem; }
  .table { background: var(--panel); border: 1px solid var(--line); border-radius: .5rem; padding: .75rem 1rem; min-width: 0; }
  .table h2 { font-size: 1rem; margin: 0 0 .25rem; }
  .status { font-size: .75rem; font-weight: 400; padding: 0 .4rem; border-radius: 999px; }
  .status.live { background: #dcfce7; color: #166534; } .status.waiting { background: #f1f5f9; color: var(--muted); }
  .counters { color: var(--muted); font-size: .85rem; margin: 0 0 .5rem; }
  .table-error { color: #dc2626; font-size: .85rem; }
  .changes { list-style: none; margin: 0; padding: 0; }
  .change { border-top: 1px solid var(--line); padding: .4rem 0; font-size: .8rem; }
  .change-head { display: flex; gap: .5rem; color: var(--muted); }
  .op { font-weight: 700; }
  .op-INSERT { color: #16a34a; } .op-UPDATE { color: #2563eb; } .op-DELETE { color: #dc2626; }
  .columns { display: grid; grid-template-columns: max-content 1fr; gap: 0 .75rem; margin: .25rem 0 0; }
  .columns dt { color: var(--muted); }
  .columns dd { margin: 0; overflow-wrap: anywhere; white-space: pre-wrap; }
  .changed { background: #fef08a; }
  .was { color: var(--muted); text-decoration: line-through; margin-left: .5rem; }
</style>
</head>
<body>
<header>
  <h1>Rowcast</h1>
  <span id="connection" class="indicator offline" role="status" aria-live="polite">offline</span>
  <span id="connection-detail">starting…</span>
</header>
<form id="login" hidden>
  <label for="token">This server requires a token (JWT). It is kept in this tab's session storage only.</label>
  <input id="token" name="token" type="password" autocomplete="off" required>
  <button type="submit">Connect</button>
  <p id="login-error"></p>
</form>
<main id="tables" aria-label="latest changes per table"></main>
<script type="module" src="${DASHBOARD_SCRIPT_PATH}"></script>
</body>
</html>
`;
