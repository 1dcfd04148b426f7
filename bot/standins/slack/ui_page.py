"""The web chat page: one self-contained HTML file (vanilla JS, no CDN) that polls /_standin/state."""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ftbot · Slack stand-in</title>
<style>
  body { margin: 0; font: 14px/1.4 system-ui, sans-serif; display: flex; height: 100vh; color: #1d1c1d; }
  nav { width: 220px; background: #3f0e40; color: #fff; padding: 12px; box-sizing: border-box; }
  nav select { width: 100%; margin-bottom: 12px; }
  nav a { display: block; color: #cfc3cf; padding: 3px 6px; cursor: pointer; border-radius: 4px; }
  nav a.on { background: #1164a3; color: #fff; }
  main { flex: 1; display: flex; flex-direction: column; }
  #log { flex: 1; overflow-y: auto; padding: 12px 16px; }
  .msg { padding: 6px 0; border-bottom: 1px solid #f0f0f0; }
  .who { font-weight: 700; } .ts { color: #999; font-size: 11px; margin-left: 6px; }
  .eph { background: #f8f8e8; } .eph .ts::after { content: " · only visible to you"; }
  .thread { margin-left: 28px; border-left: 3px solid #ddd; padding-left: 10px; }
  .ctx { color: #616061; font-size: 12px; } .tools button, .btn { margin: 2px 4px 2px 0; cursor: pointer; }
  .btn.primary { background: #007a5a; color: #fff; border: 0; padding: 4px 10px; border-radius: 4px; }
  .btn.danger { background: #e01e5a; color: #fff; border: 0; padding: 4px 10px; border-radius: 4px; }
  code { background: #f3f3f3; padding: 0 3px; } .edited { color: #999; font-size: 11px; }
  form { display: flex; padding: 10px 16px; border-top: 1px solid #ddd; gap: 8px; align-items: center; }
  form input { flex: 1; padding: 8px; font-size: 14px; }
  #replying { padding: 0 16px; color: #1164a3; font-size: 12px; }
  #modal { position: fixed; inset: 0; background: rgba(0,0,0,.4); display: none; align-items: center;
           justify-content: center; }
  #modal > div { background: #fff; border-radius: 8px; padding: 16px 20px; width: 480px; max-height: 80vh;
                 overflow-y: auto; }
  #modal label { display: block; font-weight: 700; margin-top: 10px; }
  #modal input, #modal textarea { width: 100%; box-sizing: border-box; padding: 6px; }
  .err { color: #e01e5a; font-size: 12px; }
</style></head>
<body>
<nav><div>Signed in as</div><select id="user"></select><div>Channels</div><div id="channels"></div></nav>
<main>
  <div id="log"></div>
  <div id="replying"></div>
  <form id="composer"><input id="text" autocomplete="off"
    placeholder="Message (mention with @ftbot, run /finetune ...)"><button>Send</button></form>
</main>
<div id="modal"><div id="modalBody"></div></div>
<script>
const $ = (id) => document.getElementById(id);
let S = { user: "U0ALICE", channel: "C0GENERAL", thread: null, data: null, viewKey: null, errors: {} };

async function call(name, body) {
  const r = await fetch("/_standin/" + name, { method: "POST", body: JSON.stringify(body) });
  const answer = await r.json();
  if (!answer.ok) alert(name + " failed: " + answer.error);
  return answer;
}
const ENTITIES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" };
function esc(s) { return String(s ?? "").replace(/[&<>"]/g, (c) => ENTITIES[c]); }
function userName(id) { const u = (S.data?.users || []).find((x) => x.id === id); return u ? u.real_name : id; }
function mrkdwn(text) {
  let s = esc(text);
  s = s.replace(/&lt;@(\\w+)(\\|[^&]*)?&gt;/g, (_, id) => "<b>@" + esc(userName(id)) + "</b>");
  s = s.replace(/&lt;(https?:[^|&]+)\\|([^&]+)&gt;/g, '<a href="$1" target="_blank">$2</a>');
  s = s.replace(/&lt;(https?:[^&]+)&gt;/g, '<a href="$1" target="_blank">$1</a>');
  s = s.replace(/\\*([^*\\n]+)\\*/g, "<b>$1</b>").replace(/_([^_\\n]+)_/g, "<i>$1</i>");
  return s.replace(/`([^`]+)`/g, "<code>$1</code>").replace(/\\n/g, "<br>");
}
const EMOJI = { "+1": "👍", thumbsup: "👍", "-1": "👎", thumbsdown: "👎", hourglass: "⌛", rocket: "🚀",
  hourglass_flowing_sand: "⏳", white_check_mark: "✅", warning: "⚠️", x: "❌", leftwards_arrow_with_hook: "↩️" };
function textOf(obj) {
  return obj ? mrkdwn(obj.text).replace(/:([a-z0-9_+-]+):/g, (m, name) => EMOJI[name] || m) : "";
}

function button(el, msg, channel) {
  const b = document.createElement("button");
  b.className = "btn " + (el.style || ""); b.innerHTML = textOf(el.text);
  b.onclick = () => call("click", { user: S.user, channel, ts: msg.ts, action_id: el.action_id,
                                   block_id: msg._blockId(el) });
  return b;
}
function renderBlocks(msg, channel) {
  const out = document.createElement("div");
  const blocks = (msg.blocks || []).filter((b) => b.type !== "rich_text");
  if (!blocks.length) { out.innerHTML = textOf(msg); return out; }
  msg._blockId = (el) => (blocks.find((b) => (b.elements || []).includes(el) || b.accessory === el) || {}).block_id;
  for (const b of blocks) {
    const div = document.createElement("div");
    if (b.type === "section" || b.type === "header") {
      div.innerHTML = textOf(b.text) + (b.fields || []).map((f) => "<div>" + textOf(f) + "</div>").join("");
      if (b.type === "header") div.style.fontWeight = 700;
      if (b.accessory?.type === "button") div.append(" ", button(b.accessory, msg, channel));
    } else if (b.type === "context") {
      div.className = "ctx"; div.innerHTML = (b.elements || []).map((e) => textOf(e)).join(" · ");
    } else if (b.type === "actions") {
      (b.elements || []).filter((e) => e.type === "button").forEach((e) => div.append(button(e, msg, channel)));
    } else if (b.type === "divider") { div.innerHTML = "<hr>"; }
    out.append(div);
  }
  return out;
}
function renderMessage(msg, channel, ephemeral) {
  const div = document.createElement("div");
  div.className = "msg" + (ephemeral ? " eph" : "");
  const who = msg.bot_id || msg.from_bot ? "ftbot" : ephemeral ? "Slackbot" : userName(msg.user);
  div.innerHTML = '<span class="who">' + esc(who) + '</span><span class="ts">' + esc(msg.ts) + "</span>"
    + (msg.edited ? ' <span class="edited">(edited)</span>' : "");
  div.append(renderBlocks(msg, channel));
  (msg.files || []).forEach((f) => div.insertAdjacentHTML("beforeend",
    '<div>📎 <a href="' + esc(f.url_private) + '" target="_blank">' + esc(f.title || f.name) + "</a></div>"));
  if (ephemeral) return div;
  const tools = document.createElement("div"); tools.className = "tools";
  const counts = Object.fromEntries((msg.reactions || []).map((r) => [r.name, r.count]));
  for (const [name, emoji] of [["+1", "👍"], ["-1", "👎"]]) {
    const b = document.createElement("button"); b.textContent = emoji + " " + (counts[name] || "");
    b.onclick = () => call("react", { user: S.user, channel, ts: msg.ts, name }); tools.append(b);
  }
  if (!msg.parent_user_id) {
    const r = document.createElement("button"); r.textContent = "Reply in thread";
    r.onclick = () => { S.thread = msg.ts; renderReplying(); $("text").focus(); }; tools.append(r);
  }
  div.append(tools);
  return div;
}
function renderReplying() {
  $("replying").innerHTML = S.thread ? "Replying in thread " + esc(S.thread) + ' <a href="#">cancel</a>' : "";
  const a = $("replying").querySelector("a"); if (a) a.onclick = () => { S.thread = null; renderReplying(); };
}
function renderModal(views) {
  const view = views[views.length - 1];
  const key = view ? view.id + view.hash : null;
  $("modal").style.display = view ? "flex" : "none";
  if (key === S.viewKey) return;
  S.viewKey = key; if (!view) return;
  const body = $("modalBody");
  body.innerHTML = "<h3>" + textOf(view.title) + "</h3>";
  for (const b of view.blocks || []) {
    if (b.type === "input" && b.element?.type === "plain_text_input") {
      const tag = b.element.multiline ? "textarea" : "input";
      body.insertAdjacentHTML("beforeend", "<label>" + textOf(b.label) + "</label><" + tag + ' data-block="'
        + esc(b.block_id) + '" data-action="' + esc(b.element.action_id) + '" value="'
        + esc(b.element.initial_value) + '">' + (tag === "textarea" ? esc(b.element.initial_value) + "</textarea>" : "")
        + '<div class="err" id="err-' + esc(b.block_id) + '"></div>');
    } else if (b.type === "section" || b.type === "context" || b.type === "header") {
      const text = b.text ? textOf(b.text) : (b.elements || []).map(textOf).join(" ");
      body.insertAdjacentHTML("beforeend", "<p>" + text + "</p>");
    }
  }
  const submit = document.createElement("button"); submit.className = "btn primary";
  submit.innerHTML = view.submit ? textOf(view.submit) : "Submit";
  const close = document.createElement("button"); close.className = "btn";
  close.innerHTML = view.close ? textOf(view.close) : "Cancel";
  close.onclick = () => call("close", { user: S.user, view_id: view.id }).then(refresh);
  submit.onclick = async () => {
    const values = {};
    body.querySelectorAll("[data-block]").forEach((el) => {
      (values[el.dataset.block] ??= {})[el.dataset.action] = el.value || null;
    });
    const answer = await call("submit", { user: S.user, view_id: view.id, values });
    const errors = answer.response?.response_action === "errors" ? answer.response.errors : {};
    body.querySelectorAll(".err").forEach((e) => { e.textContent = errors[e.id.slice(4)] || ""; });
    refresh();
  };
  body.append(document.createElement("br"), submit, close);
}
async function refresh() {
  const r = await fetch("/_standin/state?user=" + S.user + "&channel=" + S.channel);
  S.data = await r.json();
  const userSelect = $("user");
  if (!userSelect.options.length) {
    for (const u of S.data.users.filter((u) => u.id !== S.data.bot_user_id)) {
      userSelect.add(new Option(u.real_name + (u.is_admin ? " (admin)" : ""), u.id));
    }
    userSelect.value = S.user;
  }
  $("channels").innerHTML = "";
  for (const c of S.data.channels) {
    const a = document.createElement("a"); a.textContent = c.label; a.className = c.id === S.channel ? "on" : "";
    a.onclick = () => { S.channel = c.id; S.thread = null; renderReplying(); refresh(); }; $("channels").append(a);
  }
  const log = $("log"); const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 20;
  log.innerHTML = "";
  for (const m of S.data.messages) {
    log.append(renderMessage(m, S.channel, false));
    if (m.replies.length) {
      const t = document.createElement("div"); t.className = "thread";
      m.replies.forEach((r) => t.append(renderMessage(r, S.channel, false))); log.append(t);
    }
  }
  S.data.ephemerals.forEach((e) => log.append(renderMessage(e, S.channel, true)));
  if (atBottom) log.scrollTop = log.scrollHeight;
  renderModal(S.data.views);
}
$("user").onchange = (e) => { S.user = e.target.value; S.viewKey = null; refresh(); };
$("composer").onsubmit = async (e) => {
  e.preventDefault();
  const text = $("text").value.trim(); if (!text) return;
  $("text").value = "";
  await call("post", { user: S.user, channel: S.channel, text, thread_ts: S.thread });
  refresh();
};
refresh(); setInterval(refresh, 1000);
</script></body></html>
"""
