// The web demo's page: one self-contained HTML document (inline CSS and script, no external
// asset, so it works offline). It calls the server's /api/info and /api/run (Server-Sent Events
// of RunSnapshot, see runSnapshot.ts) and draws three runs live. The script is plain browser
// JavaScript: it cannot import rxllm without a bundler, so it reads the event stream itself.

const STYLE = `
:root {
  color-scheme: light dark;
  --ink: #0f172a; --muted: #64748b; --faint: #94a3b8; --line: #e2e8f0; --paper: #ffffff; --wash: #f1f5f9; --tint: #f8fafc;
  --sky: #0284c7; --sky-soft: #e0f2fe; --violet: #7c3aed; --violet-soft: #ede9fe; --green: #059669; --green-soft: #d1fae5;
  --red: #dc2626; --red-soft: #fee2e2; --amber: #b45309; --amber-soft: #fef3c7; --on-accent: #ffffff; --shadow: 0 1px 2px rgba(15, 23, 42, .06), 0 4px 16px rgba(15, 23, 42, .05);
}
@media (prefers-color-scheme: dark) {
  :root {
    --ink: #e2e8f0; --muted: #94a3b8; --faint: #64748b; --line: #1e293b; --paper: #0b1220; --wash: #020617; --tint: #0f172a;
    --sky: #38bdf8; --sky-soft: #0c4a6e; --violet: #a78bfa; --violet-soft: #2e1065; --green: #34d399; --green-soft: #064e3b;
    --red: #f87171; --red-soft: #450a0a; --amber: #fbbf24; --amber-soft: #451a03; --on-accent: #082f49; --shadow: 0 1px 2px rgba(0, 0, 0, .4);
  }
}
* { box-sizing: border-box; }
html { background: var(--wash); }
body { margin: 0; color: var(--ink); font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; -webkit-font-smoothing: antialiased; }
button, textarea { font: inherit; color: inherit; }
.wrap { max-width: 1180px; margin: 0 auto; padding: 0 24px; }
.top { background: var(--paper); border-bottom: 1px solid var(--line); }
.top .wrap { display: flex; align-items: center; justify-content: space-between; gap: 16px; padding-top: 14px; padding-bottom: 14px; }
.brand { display: flex; align-items: center; gap: 12px; }
.mark { display: grid; place-items: center; width: 38px; height: 38px; border-radius: 10px; background: linear-gradient(135deg, var(--sky), var(--violet)); color: #fff; font-weight: 800; letter-spacing: -.04em; }
.brand h1 { margin: 0; font-size: 18px; letter-spacing: -.01em; }
.brand h1 span { color: var(--muted); font-weight: 500; }
.brand p { margin: 0; color: var(--muted); font-size: 13px; }
.endpoint { display: flex; align-items: center; gap: 8px; padding: 6px 12px; border: 1px solid var(--line); border-radius: 999px; color: var(--muted); font-size: 13px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; max-width: 48%; }
.endpoint .dot { width: 8px; height: 8px; border-radius: 50%; background: var(--faint); flex: none; }
.endpoint.ok .dot { background: var(--green); box-shadow: 0 0 0 3px var(--green-soft); }
main.wrap { padding-top: 22px; padding-bottom: 40px; display: grid; gap: 18px; }
.panel { background: var(--paper); border: 1px solid var(--line); border-radius: 14px; padding: 18px 20px; box-shadow: var(--shadow); }
.panel-head { display: flex; justify-content: space-between; align-items: flex-start; gap: 16px; margin-bottom: 14px; }
h2 { margin: 0; font-size: 17px; letter-spacing: -.01em; }
h3 { margin: 0; font-size: 14px; }
.sub { margin: 2px 0 0; color: var(--muted); font-size: 13.5px; }
code { font: 12.5px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: var(--wash); border-radius: 5px; padding: 1px 5px; }
.input-head { display: flex; flex-wrap: wrap; align-items: baseline; gap: 6px 12px; margin-bottom: 10px; }
.input-head label { font-weight: 650; }
.hint { color: var(--muted); font-size: 13.5px; }
.samples { display: flex; flex-wrap: wrap; gap: 6px; }
.chip { border: 1px solid var(--line); background: var(--tint); border-radius: 999px; padding: 3px 11px; font-size: 13px; cursor: pointer; color: var(--ink); }
.chip:hover { border-color: var(--sky); color: var(--sky); }
textarea { width: 100%; min-height: 92px; resize: vertical; border: 1px solid var(--line); border-radius: 10px; padding: 11px 13px; background: var(--tint); line-height: 1.5; }
textarea:focus { outline: 2px solid var(--sky-soft); border-color: var(--sky); }
.actions { display: flex; align-items: center; flex-wrap: wrap; gap: 10px; margin-top: 12px; }
button.primary { background: var(--sky); color: var(--on-accent); border: 0; border-radius: 10px; padding: 9px 18px; font-weight: 650; cursor: pointer; display: inline-flex; align-items: center; gap: 10px; }
button.primary:hover { filter: brightness(1.08); }
button.primary kbd { font: 11.5px ui-monospace, Menlo, monospace; background: rgba(255, 255, 255, .22); border-radius: 5px; padding: 1px 6px; }
button.ghost { background: transparent; border: 1px solid var(--line); border-radius: 10px; padding: 8px 16px; cursor: pointer; }
button.ghost:disabled { opacity: .45; cursor: default; }
.status-line { color: var(--muted); font-size: 13.5px; }
.clock { text-align: right; }
.clock-value { display: block; white-space: nowrap; font-size: 26px; font-weight: 700; font-variant-numeric: tabular-nums; letter-spacing: -.02em; line-height: 1.1; }
.clock-label { color: var(--muted); font-size: 12.5px; }
.cards { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 12px; }
.card { border: 1px solid var(--line); border-radius: 12px; padding: 12px 14px 14px; background: var(--tint); min-height: 118px; transition: border-color .2s, box-shadow .2s; }
.card header { display: flex; align-items: center; gap: 8px; margin-bottom: 8px; }
.card .hint { font-size: 12.5px; }
.card .meta { margin-left: auto; color: var(--muted); font-size: 12.5px; font-variant-numeric: tabular-nums; white-space: nowrap; }
.state-dot { width: 9px; height: 9px; border-radius: 50%; background: var(--faint); flex: none; }
.card[data-status="waiting"] .state-dot { background: var(--amber); animation: pulse 1s ease-in-out infinite; }
.card[data-status="streaming"] { border-color: var(--sky); box-shadow: 0 0 0 3px var(--sky-soft); }
.card[data-status="streaming"] .state-dot { background: var(--sky); animation: pulse .8s ease-in-out infinite; }
.card[data-status="done"] .state-dot { background: var(--green); }
.card[data-status="failed"] .state-dot, .card[data-status="skipped"] .state-dot { background: var(--red); }
.card-text { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; }
.card-text.raw { font: 13px/1.5 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; color: var(--muted); }
.card-text.streaming::after { content: ""; display: inline-block; width: 7px; height: 1.05em; margin-left: 2px; vertical-align: -2px; background: var(--sky); animation: blink 1s steps(1) infinite; }
.card-text.quiet { color: var(--faint); font-style: italic; }
.skeleton { display: grid; gap: 7px; padding-top: 4px; }
.skeleton i { display: block; height: 10px; border-radius: 5px; background: linear-gradient(90deg, var(--line), var(--wash), var(--line)); background-size: 200% 100%; animation: shimmer 1.2s linear infinite; }
.skeleton i:nth-child(2) { width: 82%; } .skeleton i:nth-child(3) { width: 56%; }
.pill { display: inline-block; padding: 4px 14px; border-radius: 999px; font-weight: 700; font-size: 15px; text-transform: capitalize; }
.pill.positive { background: var(--green-soft); color: var(--green); }
.pill.negative { background: var(--red-soft); color: var(--red); }
.pill.neutral { background: var(--wash); color: var(--muted); }
.keywords { display: flex; flex-wrap: wrap; gap: 6px; margin: 0; padding: 0; list-style: none; }
.keywords li { background: var(--violet-soft); color: var(--violet); border-radius: 7px; padding: 2px 10px; font-weight: 600; font-size: 13.5px; }
.reask { display: inline-block; margin-left: 6px; font-size: 11.5px; color: var(--amber); background: var(--amber-soft); border-radius: 5px; padding: 0 6px; }
.error { margin-top: 12px; border: 1px solid var(--red); background: var(--red-soft); color: var(--red); border-radius: 10px; padding: 9px 12px; font-size: 13.5px; }
.waterfall { margin-top: 16px; border-top: 1px solid var(--line); padding-top: 14px; }
.wf-head { display: flex; align-items: baseline; justify-content: space-between; gap: 12px; flex-wrap: wrap; }
.facts { display: flex; flex-wrap: wrap; gap: 6px 18px; color: var(--muted); font-size: 13px; }
.facts b { color: var(--ink); font-variant-numeric: tabular-nums; }
.facts .crit b { color: var(--violet); }
svg.chart { display: block; width: 100%; height: auto; margin-top: 8px; overflow: visible; }
svg.chart text { font: 12px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; fill: var(--ink); font-variant-numeric: tabular-nums; }
svg.chart .tick { fill: var(--muted); font-size: 11px; text-anchor: middle; }
svg.chart .grid { stroke: var(--line); }
svg.chart .label { text-anchor: end; font-weight: 600; }
svg.chart .label.pending { fill: var(--faint); font-weight: 500; }
svg.chart .info { fill: var(--muted); }
svg.chart .now { stroke: var(--sky); stroke-dasharray: 3 3; }
svg.chart .note { fill: var(--faint); font-style: italic; }
.legend { display: flex; flex-wrap: wrap; gap: 14px; list-style: none; margin: 6px 0 0; padding: 0; color: var(--muted); font-size: 12px; }
.legend li { display: flex; align-items: center; gap: 6px; }
.legend i { display: inline-block; width: 22px; height: 9px; border-radius: 3px; background: var(--sky); }
.legend i.wait { opacity: .28; } .legend i.crit { background: var(--violet); } .legend i.dot { width: 9px; height: 9px; border-radius: 50%; background: var(--paper); border: 2px solid var(--ink); }
details.record { margin-top: 12px; }
details.record summary { cursor: pointer; color: var(--muted); font-size: 13.5px; }
details.record pre { margin: 8px 0 0; background: var(--tint); border: 1px solid var(--line); border-radius: 10px; padding: 10px 12px; font-size: 12.5px; overflow: auto; max-height: 280px; }
.lanes { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 12px; }
.lane { border: 1px solid var(--line); border-radius: 12px; padding: 12px 14px; background: var(--tint); }
.lane-head { display: flex; align-items: baseline; justify-content: space-between; gap: 8px; }
.lane-head .clock-value { font-size: 22px; }
.lane[data-status="done"] .clock-value { color: var(--green); }
.lane .sub { font-size: 12.5px; }
.verdict { margin-top: 14px; border-radius: 12px; padding: 12px 16px; background: linear-gradient(90deg, var(--sky-soft), var(--violet-soft)); font-size: 15px; }
.verdict b { font-variant-numeric: tabular-nums; }
.verdict .big { font-size: 22px; font-weight: 800; letter-spacing: -.02em; margin-right: 8px; }
footer.wrap { color: var(--muted); font-size: 12.5px; padding-bottom: 28px; display: flex; flex-wrap: wrap; gap: 6px 18px; }
footer a { color: var(--sky); }
@keyframes pulse { 50% { opacity: .35; } }
@keyframes blink { 50% { opacity: 0; } }
@keyframes shimmer { from { background-position: 200% 0; } to { background-position: -200% 0; } }
@media (max-width: 760px) { .cards, .lanes { grid-template-columns: 1fr; } .endpoint { display: none; } }
`;

const BODY = `
<header class="top"><div class="wrap">
  <div class="brand"><span class="mark">rx</span><div><h1>rxllm <span>live pipeline</span></h1><p>The content-analysis pipeline, streamed to your browser as it happens.</p></div></div>
  <div class="endpoint" id="endpoint" title="Where the pipeline's requests go"><span class="dot"></span><span id="endpoint-text">connecting…</span></div>
</div></header>
<main class="wrap">
  <section class="panel">
    <div class="input-head"><label for="text">Text to analyse</label><span class="hint">paste anything, or try a sample:</span><div class="samples" id="samples"></div></div>
    <textarea id="text" rows="4" spellcheck="false" placeholder="Paste a review, a support ticket, an email…"></textarea>
    <div class="actions">
      <button id="run" class="primary" type="button">Run pipeline <kbd>Ctrl ↵</kbd></button>
      <button id="stop" class="ghost" type="button" disabled>Stop</button>
      <span class="status-line" id="status-line">One click starts three runs at once: the dependency graph below, and sequential against parallel further down.</span>
    </div>
  </section>

  <section class="panel" id="graph" data-mode="graph" data-status="idle">
    <div class="panel-head">
      <div><h2>Analysis</h2><p class="sub"><code>graph()</code>: sentiment, summary and keywords start together; the reply starts the moment sentiment and summary are final.</p></div>
      <div class="clock"><span class="clock-value" data-clock>0.00 s</span><span class="clock-label" data-clock-label>ready</span></div>
    </div>
    <div class="cards" id="cards"></div>
    <div class="error" data-error hidden></div>
    <div class="waterfall">
      <div class="wf-head"><h3>Live waterfall</h3><div class="facts" data-facts></div></div>
      <svg class="chart" data-chart role="img" aria-label="Waterfall of the graph run"></svg>
      <ul class="legend"><li><i class="wait"></i>waiting for the first token</li><li><i></i>streaming</li><li><i class="dot"></i>first token</li><li><i class="crit"></i>critical path</li></ul>
    </div>
    <details class="record"><summary>Final record (JSON) <span id="report-link"></span></summary><pre id="record">Run the pipeline to see it.</pre></details>
  </section>

  <section class="panel" id="race">
    <div class="panel-head"><div><h2>Sequential vs parallel</h2><p class="sub">The same three steps on the same endpoint, started at the same moment. Both charts share one time scale.</p></div></div>
    <div class="lanes">
      <div class="lane" data-mode="sequential" data-status="idle">
        <div class="lane-head"><h3>One after another</h3><span class="clock-value" data-clock>–</span></div>
        <p class="sub"><code>await</code> sentiment, then summary, then keywords</p>
        <svg class="chart" data-chart role="img" aria-label="Waterfall of the sequential run"></svg>
        <div class="facts" data-facts></div>
        <div class="error" data-error hidden></div>
      </div>
      <div class="lane" data-mode="parallel" data-status="idle">
        <div class="lane-head"><h3>parallel()</h3><span class="clock-value" data-clock>–</span></div>
        <p class="sub"><code>parallel({ sentiment, summary, keywords })</code>, streaming</p>
        <svg class="chart" data-chart role="img" aria-label="Waterfall of the parallel run"></svg>
        <div class="facts" data-facts></div>
        <div class="error" data-error hidden></div>
      </div>
    </div>
    <div class="verdict" id="verdict" hidden></div>
  </section>
</main>
<footer class="wrap">
  <span>Every panel reads its own <code>POST /api/run</code> stream of Server-Sent Events, written by <code>toServerSentEvents</code>.</span>
  <span>Closing this tab (or Stop) cancels every request upstream.</span>
</footer>
`;

// Plain browser JavaScript, kept free of backticks and dollar-brace so it can live in this template.
const SCRIPT = `
'use strict';
const NODES = [
  { name: 'sentiment', title: 'Sentiment', hint: 'positive, negative or neutral' },
  { name: 'summary', title: 'Summary', hint: 'one sentence' },
  { name: 'keywords', title: 'Keywords', hint: 'five of them' },
  { name: 'reply', title: 'Drafted reply', hint: 'after sentiment + summary', after: 'Waits for sentiment and summary, then starts at once.' },
];
const MODES = ['graph', 'sequential', 'parallel'];
const $ = (selector, root) => (root || document).querySelector(selector);
const textarea = $('#text');
const runButton = $('#run');
const stopButton = $('#stop');
const statusLine = $('#status-line');
const sections = {
  graph: $('#graph'),
  sequential: $('.lane[data-mode="sequential"]'),
  parallel: $('.lane[data-mode="parallel"]'),
};
let session = null;

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}
function svg(tag, attrs, text) {
  const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const key in attrs) node.setAttribute(key, String(attrs[key]));
  if (text !== undefined) node.textContent = text;
  return node;
}
function fmt(ms) {
  if (ms === undefined || ms === null || !isFinite(ms)) return '–';
  if (ms < 1000) return Math.round(ms) + ' ms';
  return (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + ' s';
}
function seconds(ms) { return (Math.max(0, ms) / 1000).toFixed(2) + ' s'; }

// ---- the cards of the graph run -------------------------------------------------------------
const cards = {};
for (const node of NODES) {
  const card = el('article', 'card');
  card.dataset.node = node.name;
  card.dataset.status = 'idle';
  const head = el('header');
  head.append(el('span', 'state-dot'), el('h3', '', node.title), el('span', 'hint', node.hint));
  const meta = el('span', 'meta');
  head.append(meta);
  const body = el('div', 'card-body');
  card.append(head, body);
  $('#cards').append(card);
  cards[node.name] = { card, body, meta, spec: node, key: '' };
}

function renderCard(name, view) {
  const entry = cards[name];
  const status = view ? view.status : 'idle';
  entry.card.dataset.status = status;
  entry.meta.textContent = view && view.startMs !== undefined
    ? (view.firstTokenMs !== undefined ? 'first token ' + fmt(view.firstTokenMs - view.startMs) : 'sent') + (view.endMs !== undefined ? ' · ' + fmt(view.endMs - view.startMs) : '')
    : '';
  // Rebuild the body only when its kind changes; while streaming only the text node changes.
  const kind = status === 'done' ? 'done' : status === 'streaming' ? 'streaming' : status;
  if (entry.key !== kind) {
    entry.key = kind;
    entry.body.replaceChildren();
    entry.text = null;
    if (kind === 'idle') entry.body.append(el('p', 'card-text quiet', 'Not run yet.'));
    else if (kind === 'pending') entry.body.append(el('p', 'card-text quiet', entry.spec.after || 'Waiting for its inputs.'));
    else if (kind === 'waiting') {
      const skeleton = el('div', 'skeleton');
      skeleton.append(el('i'), el('i'), el('i'));
      entry.body.append(skeleton);
    } else if (kind === 'streaming') {
      entry.text = el('p', 'card-text streaming' + (name === 'sentiment' || name === 'keywords' ? ' raw' : ''));
      entry.text.dataset.text = '';
      entry.body.append(entry.text);
    } else if (kind === 'skipped' || kind === 'failed') entry.body.append(el('p', 'card-text quiet', kind === 'skipped' ? 'Skipped: an input failed.' : 'Failed.'));
    else if (kind === 'stopped') entry.body.append(el('p', 'card-text quiet', 'Stopped.'));
  }
  if (kind === 'streaming') entry.text.textContent = view.text;
  if (kind === 'done') {
    entry.body.replaceChildren();
    entry.key = 'done';
    entry.body.append(doneValue(name, view));
    if (view.reask) entry.meta.append(el('span', 'reask', 're-asked ×' + view.reask));
  }
}

function doneValue(name, view) {
  const value = view.value;
  if (name === 'sentiment' && typeof value === 'string') {
    const pill = el('span', 'pill ' + value, value);
    pill.dataset.value = value;
    return pill;
  }
  if (name === 'keywords' && Array.isArray(value)) {
    const list = el('ul', 'keywords');
    for (const word of value) list.append(el('li', '', String(word)));
    return list;
  }
  const text = el('p', 'card-text', typeof value === 'string' ? value : JSON.stringify(value));
  text.dataset.text = '';
  return text;
}

// ---- reading a run's event stream ----------------------------------------------------------
async function openRun(mode, text, signal, handlers) {
  const response = await fetch('/api/run', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify({ text: text, mode: mode }),
    signal: signal,
  });
  if (!response.ok) {
    const body = await response.text();
    let message = 'HTTP ' + response.status;
    try { message = JSON.parse(body).error.message; } catch (ignored) { /* not JSON */ }
    throw new Error(message);
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const chunk = await reader.read();
    if (chunk.done) break;
    buffer = (buffer + decoder.decode(chunk.value, { stream: true })).replace(/\\r\\n?/g, '\\n');
    let end;
    while ((end = buffer.indexOf('\\n\\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      const data = [];
      for (const line of block.split('\\n')) {
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
      }
      if (data.length === 0) continue;
      if (event === 'done') return;
      if (event === 'error') throw new Error(JSON.parse(data.join('\\n')).message);
      handlers.snapshot(JSON.parse(data.join('\\n')));
    }
  }
  throw new Error('The stream ended early: the server stopped.');
}

// ---- runs ------------------------------------------------------------------------------------
function start() {
  const text = textarea.value.trim();
  if (!text) { textarea.focus(); statusLine.textContent = 'Paste a text first.'; return; }
  if (session) session.controller.abort();
  const controller = new AbortController();
  session = { controller: controller, startedAt: performance.now(), runs: {} };
  const mine = session;
  stopButton.disabled = false;
  runButton.firstChild.textContent = 'Run again ';
  statusLine.textContent = 'Streaming from ' + location.host + '/api/run …';
  $('#verdict').hidden = true;
  $('#record').textContent = 'Waiting for the graph run to finish…';
  $('#report-link').replaceChildren();
  for (const name in cards) { cards[name].key = ''; renderCard(name, { status: 'waiting', text: '' }); }
  for (const mode of MODES) {
    const run = { snapshot: null, receivedAt: 0, state: 'running', error: null };
    mine.runs[mode] = run;
    const section = sections[mode];
    section.dataset.status = 'waiting';
    $('[data-error]', section).hidden = true;
    $('[data-facts]', section).replaceChildren();
    openRun(mode, text, controller.signal, {
      snapshot: (snapshot) => {
        if (session !== mine) return;
        run.snapshot = snapshot;
        run.receivedAt = performance.now();
        section.dataset.status = snapshot.status;
        if (mode === 'graph') for (const node of NODES) renderCard(node.name, snapshot.nodes[node.name]);
      },
    }).then(
      () => finish(mine, mode, 'done'),
      (error) => finish(mine, mode, controller.signal.aborted ? 'stopped' : 'failed', error),
    );
  }
  requestAnimationFrame(tick);
}

function finish(mine, mode, state, error) {
  if (session !== mine) return;
  const run = mine.runs[mode];
  run.state = state;
  const section = sections[mode];
  section.dataset.status = state;
  if (state === 'failed') {
    const box = $('[data-error]', section);
    box.textContent = (error && error.message) || String(error);
    box.hidden = false;
  }
  if (mode === 'graph') {
    if (state === 'done' && run.snapshot && run.snapshot.value) {
      $('#record').textContent = JSON.stringify(run.snapshot.value, null, 2);
      const link = el('a', '', 'open the full waterfall report ↗');
      link.href = '/report?mode=graph';
      link.target = '_blank';
      $('#report-link').replaceChildren(document.createTextNode('· '), link);
    } else if (state !== 'done') {
      $('#record').textContent = state === 'stopped' ? 'Stopped before the end.' : 'The run failed.';
      for (const node of NODES) {
        const view = run.snapshot && run.snapshot.nodes[node.name];
        if (!view || view.status !== 'done') renderCard(node.name, { status: state === 'stopped' ? 'stopped' : 'failed', text: '' });
      }
    }
  }
  drawAll();
  if (MODES.every((m) => mine.runs[m].state !== 'running')) {
    stopButton.disabled = true;
    const failed = MODES.filter((m) => mine.runs[m].state === 'failed').length;
    statusLine.textContent = state === 'stopped' ? 'Stopped: every request was cancelled.' : failed ? failed + ' of 3 runs failed.' : 'Done. Change the text and run again.';
    verdict(mine);
  }
}

function stop() {
  if (session) session.controller.abort();
}

/** A run's time now: its last snapshot's, plus what has passed since it arrived while it is running. */
function elapsed(run) {
  if (!run || !run.snapshot) return session ? performance.now() - session.startedAt : 0;
  if (run.state !== 'running' || run.snapshot.status === 'done') return run.snapshot.elapsedMs;
  return run.snapshot.elapsedMs + (performance.now() - run.receivedAt);
}

function tick() {
  drawAll();
  if (session && MODES.some((m) => session.runs[m].state === 'running')) requestAnimationFrame(tick);
}

function drawAll() {
  if (!session) return;
  const runs = session.runs;
  const graphNow = elapsed(runs.graph);
  $('[data-clock]', sections.graph).textContent = seconds(graphNow);
  const graphState = runs.graph.state === 'running' ? (runs.graph.snapshot ? runs.graph.snapshot.status : 'sending') : runs.graph.state;
  $('[data-clock-label]', sections.graph).textContent = graphState === 'done' ? 'done' : graphState;
  drawChart($('[data-chart]', sections.graph), runs.graph.snapshot, graphNow, niceCeil(Math.max(graphNow, 1000)), ['sentiment', 'summary', 'keywords', 'reply'], 'waits for its inputs', runs.graph.state);
  const raceNow = Math.max(elapsed(runs.sequential), elapsed(runs.parallel), 1000);
  for (const mode of ['sequential', 'parallel']) {
    const now = elapsed(runs[mode]);
    $('[data-clock]', sections[mode]).textContent = seconds(now);
    drawChart($('[data-chart]', sections[mode]), runs[mode].snapshot, now, niceCeil(raceNow), ['sentiment', 'summary', 'keywords'], 'waits its turn', runs[mode].state);
  }
  facts();
}

function niceCeil(ms) {
  const magnitude = Math.pow(10, Math.floor(Math.log10(ms)));
  for (const step of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (step * magnitude >= ms) return step * magnitude;
  return 10 * magnitude;
}

// ---- the waterfall -------------------------------------------------------------------------
function drawChart(chart, snapshot, now, domain, names, pendingNote, runState) {
  // Drawn at the chart's own pixel width, so the text stays 12 px on a phone as on a desktop.
  const W = Math.max(320, Math.round(chart.getBoundingClientRect().width) || 820);
  const LABEL = W > 600 ? 104 : 84, PLOT = W - LABEL - 84, ROW = 30, TOP = 24;
  const ended = runState === 'stopped' || runState === 'failed';
  const H = TOP + names.length * ROW + 6;
  const x = (ms) => LABEL + (Math.min(ms, domain) / domain) * PLOT;
  chart.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
  const parts = [];
  const step = niceCeil(domain / Math.max(3, Math.floor(PLOT / 90)));
  for (let t = 0; t <= domain + 1e-6; t += step) {
    parts.push(svg('line', { x1: x(t), y1: TOP - 6, x2: x(t), y2: H - 4, class: 'grid' }));
    parts.push(svg('text', { x: x(t), y: TOP - 11, class: 'tick' }, t === 0 ? '0' : fmt(t)));
  }
  const critical = new Set((snapshot && snapshot.criticalPath) || []);
  names.forEach((name, i) => {
    const view = snapshot && snapshot.nodes[name];
    const y = TOP + i * ROW;
    const started = view && view.startMs !== undefined;
    const label = svg('text', { x: LABEL - 12, y: y + ROW / 2 + 4, class: 'label' + (started ? '' : ' pending') }, (critical.has(name) ? '◆ ' : '') + name);
    if (critical.has(name)) label.setAttribute('fill', 'var(--violet)');
    parts.push(label);
    if (!started) {
      if (snapshot) parts.push(svg('text', { x: LABEL + 6, y: y + ROW / 2 + 4, class: 'note' }, ended ? 'not run' : pendingNote));
      return;
    }
    const cut = view.endMs === undefined && ended;
    const color = view.status === 'failed' ? 'var(--red)' : cut ? 'var(--faint)' : critical.has(name) ? 'var(--violet)' : 'var(--sky)';
    const end = view.endMs !== undefined ? view.endMs : now;
    const x0 = x(view.startMs), x1 = Math.max(x0 + 2, x(end));
    const xf = view.firstTokenMs !== undefined ? Math.min(x1, Math.max(x0, x(view.firstTokenMs))) : x1;
    const top = y + (ROW - 14) / 2;
    parts.push(svg('rect', { x: x0, y: top, width: x1 - x0, height: 14, rx: 3, fill: color, 'fill-opacity': 0.25 }));
    if (x1 > xf) parts.push(svg('rect', { x: xf, y: top, width: x1 - xf, height: 14, rx: 3, fill: color }));
    if (view.firstTokenMs !== undefined) parts.push(svg('circle', { cx: xf, cy: top + 7, r: 4, fill: 'var(--paper)', stroke: color, 'stroke-width': 2 }));
    const info = view.endMs !== undefined ? fmt(view.endMs - view.startMs) : cut ? runState : view.status === 'waiting' ? 'waiting…' : 'streaming…';
    parts.push(svg('text', { x: Math.min(x1 + 8, LABEL + PLOT + 8), y: y + ROW / 2 + 4, class: 'info' }, info));
  });
  if (snapshot && !ended && snapshot.status !== 'done' && snapshot.status !== 'failed' && now < domain) parts.push(svg('line', { x1: x(now), y1: TOP - 4, x2: x(now), y2: H - 4, class: 'now' }));
  chart.replaceChildren.apply(chart, parts);
}

function facts() {
  const runs = session.runs;
  const graph = runs.graph.snapshot;
  const box = $('[data-facts]', sections.graph);
  if (graph && graph.status === 'done') {
    const views = Object.values(graph.nodes).filter((v) => v.endMs !== undefined);
    const busy = views.reduce((sum, v) => sum + (v.endMs - v.startMs), 0);
    box.replaceChildren(
      fact('wall time', fmt(graph.elapsedMs)),
      fact('first token', fmt(graph.firstTokenMs)),
      fact('critical path', (graph.criticalPath || []).join(' → '), 'crit'),
      fact('overlap', (busy / Math.max(1, graph.elapsedMs)).toFixed(1) + '×'),
    );
  }
  for (const mode of ['sequential', 'parallel']) {
    const snap = runs[mode].snapshot;
    const target = $('[data-facts]', sections[mode]);
    if (snap && snap.firstTokenMs !== undefined) {
      const visible = mode === 'sequential' ? snap.elapsedMs : snap.firstTokenMs;
      target.replaceChildren(fact('first token', fmt(snap.firstTokenMs)), fact(mode === 'parallel' ? 'first words on screen' : 'record complete', snap.status === 'done' || mode === 'parallel' ? fmt(visible) : '…'));
    }
  }
}

function fact(label, value, className) {
  const span = el('span', className || '');
  span.append(document.createTextNode(label + ' '), el('b', '', value));
  return span;
}

function verdict(mine) {
  const seq = mine.runs.sequential, par = mine.runs.parallel;
  if (seq.state !== 'done' || par.state !== 'done') return;
  const s = seq.snapshot.elapsedMs, p = par.snapshot.elapsedMs;
  const box = $('#verdict');
  box.replaceChildren(
    el('span', 'big', (s / Math.max(1, p)).toFixed(1) + '× faster'),
    document.createTextNode('parallel() finished in '), el('b', '', fmt(p)),
    document.createTextNode(', one after another took '), el('b', '', fmt(s)),
    document.createTextNode('. With streaming the first words were on screen after '), el('b', '', fmt(par.snapshot.firstTokenMs)),
    document.createTextNode('.'),
  );
  box.hidden = false;
}

// ---- start-up --------------------------------------------------------------------------------
runButton.addEventListener('click', start);
addEventListener('resize', drawAll);
stopButton.addEventListener('click', stop);
textarea.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) { event.preventDefault(); start(); }
});
fetch('/api/info').then((response) => response.json()).then((info) => {
  $('#endpoint-text').textContent = info.endpoint + ' · ' + info.model;
  $('#endpoint').classList.add('ok');
  info.samples.forEach((sample, i) => {
    const chip = el('button', 'chip', sample.split(/\\s+/).slice(0, 3).join(' ') + '…');
    chip.type = 'button';
    chip.title = sample;
    chip.addEventListener('click', () => { textarea.value = sample; textarea.focus(); });
    $('#samples').append(chip);
    if (i === 0 && !textarea.value) textarea.value = sample;
  });
}, () => { $('#endpoint-text').textContent = 'server unreachable'; });
`;

/**
 * The web demo's page: a complete HTML document, served by `rxllm demo --web` at `/`. Needs the
 * server's `GET /api/info`, `POST /api/run` (Server-Sent Events of `RunSnapshot`) and
 * `GET /report`. No external resource: fonts, styles, script and charts are all inline.
 */
export const DEMO_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>rxllm · live pipeline</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>
${BODY}
<script>${SCRIPT}</script>
</body>
</html>
`;
