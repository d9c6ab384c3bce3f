// ChainMargin dashboard: plain pages over the /v1 API, no build step.
const ChainMargin = (() => {
  const fmt = v => v === null || v === undefined ? '-' : Number(v).toLocaleString('en-US', { maximumFractionDigits: 4 });
  const el = id => document.getElementById(id);
  const cell = (row, text, cls) => { const td = row.insertCell(); td.textContent = text; if (cls) td.className = cls; return td; };
  const get = async url => { const r = await fetch(url); if (!r.ok) throw new Error(url + ': ' + r.status); return r.json(); };

  async function chains() {
    const body = el('chains').tBodies[0];
    body.innerHTML = '';
    for (const c of await get('/v1/chains')) {
      const row = body.insertRow();
      cell(row, c.chainId); cell(row, c.name); cell(row, fmt(c.head), 'num'); cell(row, fmt(c.indexedBlock), 'num');
      cell(row, fmt(c.lagBlocks), 'num'); cell(row, c.halted ? 'halted' : c.stale ? 'stale: ' + c.staleReason : 'live');
    }
  }

  async function atRisk() {
    const page = await get('/v1/at-risk?pageSize=100');
    const body = el('at-risk').tBodies[0];
    body.innerHTML = '';
    for (const s of page.items) {
      const row = body.insertRow();
      const a = document.createElement('a');
      a.href = '/account.html?address=' + s.account; a.textContent = s.account;
      row.insertCell().appendChild(a);
      cell(row, s.state, 'state-' + s.state); cell(row, fmt(s.health), 'num'); cell(row, s.reason); cell(row, s.at);
    }
    el('at-risk-empty').hidden = page.items.length > 0;
    const all = await get('/v1/at-risk?state=healthy&pageSize=500');
    distribution(all.items.concat(page.items));
  }

  function distribution(states) {
    const buckets = [['<1', 0, 1], ['1-1.1', 1, 1.1], ['1.1-1.5', 1.1, 1.5], ['1.5-3', 1.5, 3], ['>3', 3, Infinity]];
    const counts = buckets.map(([, lo, hi]) => states.filter(s => s.health !== null && s.health >= lo && s.health < hi).length);
    const max = Math.max(1, ...counts);
    const box = el('distribution');
    box.innerHTML = '';
    buckets.forEach(([label], i) => {
      const col = document.createElement('div');
      const bar = document.createElement('div');
      bar.className = 'bar'; bar.style.height = (10 + 100 * counts[i] / max) + 'px'; bar.textContent = counts[i];
      const name = document.createElement('div'); name.className = 'bar-label'; name.textContent = label;
      col.append(bar, name); box.appendChild(col);
    });
  }

  function home() {
    el('lookup').addEventListener('submit', e => { e.preventDefault(); location.href = '/account.html?address=' + el('address').value.trim(); });
    const refresh = () => Promise.all([chains(), atRisk()]).catch(err => console.error(err));
    refresh();
    setInterval(refresh, 3000);
  }

  function showHealth(h) {
    el('state').textContent = h.state; el('state').className = 'state-' + h.state;
    el('headline-method').textContent = h.headlineMethod;
    el('headline-health').textContent = fmt(h.health);
    el('headline-status').textContent = h.status;
    const reasons = el('reasons'); reasons.innerHTML = '';
    for (const r of h.reasons) { const li = document.createElement('li'); li.textContent = r; reasons.appendChild(li); }
    const body = el('methods').tBodies[0]; body.innerHTML = '';
    for (const m of h.methods) {
      const row = body.insertRow();
      row.dataset.method = m.method;
      cell(row, m.method); cell(row, m.status); cell(row, fmt(m.equity), 'num'); cell(row, fmt(m.maintenance), 'num');
      cell(row, fmt(m.initial), 'num'); cell(row, fmt(m.health), 'num');
    }
    el('blocks').textContent = 'computed at ' + h.blocks.map(b => `chain ${b.chainId} block ${b.number}`).join(', ');
  }

  async function positions(address) {
    const p = await get(`/v1/accounts/${address}/positions`);
    const body = el('positions').tBodies[0]; body.innerHTML = '';
    for (const x of p.positions) {
      const row = body.insertRow();
      cell(row, x.kind); cell(row, x.chain); cell(row, x.venue); cell(row, x.instrument); cell(row, x.asset);
      cell(row, fmt(x.equity), 'num'); cell(row, fmt(x.requirement), 'num');
    }
  }

  async function history(address) {
    // Sampled health (every state change and every large enough move), merged with the state changes for older
    // history that predates sampling; one point per instant.
    const [h, sampled] = await Promise.all([
      get(`/v1/accounts/${address}/state`), get(`/v1/accounts/${address}/health/history?limit=500`),
    ]);
    const byTime = new Map();
    for (const s of [...h.history, ...sampled.samples]) {
      if (s.health !== null) byTime.set(Date.parse(s.at), { t: Date.parse(s.at), v: Number(s.health), state: s.state });
    }
    const points = [...byTime.values()].sort((a, b) => a.t - b.t);
    const svg = el('history'); svg.innerHTML = '';
    svg.dataset.points = String(points.length);
    if (points.length === 0) return;
    const w = 640, ht = 160, pad = 20;
    const t0 = points[0].t, t1 = Math.max(points[points.length - 1].t, t0 + 1);
    const vmax = Math.max(2, ...points.map(p => p.v));
    const x = t => pad + (w - 2 * pad) * (t - t0) / (t1 - t0);
    const y = v => ht - pad - (ht - 2 * pad) * Math.min(v, vmax) / vmax;
    const ns = 'http://www.w3.org/2000/svg';
    const one = document.createElementNS(ns, 'line');
    Object.entries({ x1: pad, x2: w - pad, y1: y(1), y2: y(1), stroke: '#b00020', 'stroke-dasharray': '4' }).forEach(([k, v]) => one.setAttribute(k, v));
    svg.appendChild(one);
    const line = document.createElementNS(ns, 'polyline');
    line.setAttribute('points', points.map(p => `${x(p.t)},${y(p.v)}`).join(' '));
    line.setAttribute('fill', 'none'); line.setAttribute('stroke', '#3b6ea8'); line.setAttribute('stroke-width', '2');
    svg.appendChild(line);
    for (const p of points) {
      const c = document.createElementNS(ns, 'circle');
      c.setAttribute('cx', x(p.t)); c.setAttribute('cy', y(p.v)); c.setAttribute('r', 3);
      c.setAttribute('fill', p.state === 'liquidatable' ? '#b00020' : p.state === 'warning' ? '#c77700' : '#3b6ea8');
      const title = document.createElementNS(ns, 'title');
      title.textContent = `${new Date(p.t).toISOString()} ${p.state} ${fmt(p.v)}`;
      c.appendChild(title);
      svg.appendChild(c);
    }
  }

  function account(address) {
    el('account').textContent = address;
    const refresh = () => Promise.all([
      get(`/v1/accounts/${address}/health`).then(showHealth), positions(address), history(address),
    ]).catch(err => { el('headline-status').textContent = String(err); });
    refresh();
    setInterval(refresh, 5000);
    el('what-if').addEventListener('submit', async e => {
      e.preventDefault();
      const asset = el('shock-asset').value.trim().toUpperCase();
      const body = { spot: { [asset]: Number(el('shock-spot').value) }, volatility: { [asset]: Number(el('shock-vol').value) } };
      const r = await fetch(`/v1/accounts/${address}/what-if`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const h = await r.json();
      el('what-if-health').textContent = r.ok ? fmt(h.health) : 'error';
      el('what-if-status').textContent = r.ok ? h.status : (h.detail || h.title);
    });
  }

  return { home, account };
})();
