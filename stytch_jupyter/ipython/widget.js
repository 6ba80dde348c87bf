// The Stytch session widget's page side (anywidget ES module, no build step).
//
// The kernel sends one `state` value; render() turns it into the DOM in one synchronous pass, so
// the browser never paints a frame that mixes two states. What the user types stays in the page:
// an email or a code reaches the kernel only in a custom message at submit time (never as widget
// state), and the code field is cleared as it is sent.

function h(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "className") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

const CLASS_OF = {
  refresh: "stytch-refresh",
  extend: "stytch-extend",
  sign_out: "stytch-sign-out",
  retry: "stytch-retry",
  forget: "stytch-forget",
  send_code: "stytch-send-code",
  sign_in: "stytch-sign-in",
};

function render({ model, el }) {
  const root = h("div", { className: "stytch-session-widget" });
  // Persistent parts: a live region only announces what changed, so these are updated in place.
  const status = h("div", { className: "stytch-status", role: "status", "aria-live": "polite" });
  const body = h("div", { className: "stytch-body" });
  const info = h("div", { className: "stytch-info", hidden: true });
  const error = h("div", { className: "stytch-error", hidden: true });
  const messages = h("div", { className: "stytch-messages", "aria-live": "polite" }, [info, error]);
  root.append(status, body, messages);
  el.append(root);

  let ownsFocus = false; // the user is working in this widget: keep focus in it across renders
  let lastFocusId = null;
  const openDetails = new Set();

  root.addEventListener("focusin", () => {
    ownsFocus = true;
  });
  root.addEventListener("focusout", (event) => {
    // A null relatedTarget is an element that went away or was disabled: still ours.
    if (event.relatedTarget && !root.contains(event.relatedTarget)) ownsFocus = false;
  });

  const state = () => model.get("state") || {};
  const busy = () => Boolean(state().busy);

  function send(message) {
    if (busy()) return;
    model.send(message);
  }

  function sendCode() {
    const input = root.querySelector("[data-role=email]");
    send({ action: "send_code", email: input ? input.value : "" });
  }

  function signIn() {
    const input = root.querySelector("[data-role=code]");
    if (!input || busy()) return;
    const code = input.value;
    input.value = ""; // cleared as it is sent: it lives nowhere but in that one message
    model.send({ action: "sign_in", code });
  }

  function onEnter(handler) {
    return (event) => {
      if (event.key === "Enter" && !event.isComposing) {
        event.preventDefault();
        handler();
      }
    };
  }

  function button(action, s, extra = {}) {
    const running = s.busy === action.id;
    return h(
      "button",
      {
        type: "button",
        className: `stytch-button ${CLASS_OF[action.id] || `stytch-${action.id}`}` +
          (action.primary ? " stytch-primary" : "") + (running ? " stytch-running" : ""),
        "data-role": action.id,
        title: action.title,
        "aria-disabled": s.busy ? "true" : null,
        disabled: s.kind === "closed",
        text: running && s.busy_label ? s.busy_label : action.label,
        onclick: extra.onclick || (() => send({ action: action.id })),
      },
      [],
    );
  }

  function disclosure(key, text, detail, className) {
    const parts = [h("span", { className: "stytch-plain", text })];
    if (detail && detail !== text) {
      const details = h("details", { className: "stytch-details", open: openDetails.has(key) }, [
        h("summary", { text: "Details" }),
        h("span", { className: "stytch-detail", text: detail }),
      ]);
      details.addEventListener("toggle", () => {
        if (details.open) openDetails.add(key);
        else openDetails.delete(key);
      });
      parts.push(details);
    }
    return h("div", { className, title: detail || null }, parts);
  }

  function form(s) {
    const old = (role) => root.querySelector(`[data-role=${role}]`);
    const oldEmail = old("email");
    const oldCode = old("code");
    const email = h("input", {
      type: "email",
      className: "stytch-input stytch-email",
      "data-role": "email",
      "aria-label": "Email address",
      placeholder: "you@example.com",
      autocomplete: "email",
      readonly: s.busy ? true : null,
      onkeydown: onEnter(sendCode),
    });
    // What the user typed outlives a re-render; a fresh view starts from the last email used.
    email.value = oldEmail ? oldEmail.value : s.form.email || "";
    const rows = [
      h("div", { className: "stytch-line" }, [
        email,
        button({ id: "send_code", label: s.form.send_label, title: "Email a one-time sign-in code",
          primary: s.form.step === "email" }, s, { onclick: sendCode }),
      ]),
    ];
    if (s.form.step === "code") {
      const code = h("input", {
        type: "password",
        className: "stytch-input stytch-code",
        "data-role": "code",
        "aria-label": "Code from the email",
        placeholder: "code from the email",
        autocomplete: "one-time-code",
        inputmode: "numeric",
        readonly: s.busy ? true : null,
        onkeydown: onEnter(signIn),
      });
      code.value = oldCode ? oldCode.value : "";
      rows.push(
        h("div", { className: "stytch-line" }, [
          code,
          button({ id: "sign_in", label: "Sign in", title: "Sign in with the emailed code",
            primary: true }, s, { onclick: signIn }),
        ]),
      );
    }
    for (const provider of s.providers || []) {
      rows.push(button({ id: `provider-${provider.id}`, label: `Continue with ${provider.name}`,
        title: provider.title || "" }, s, { onclick: () => send({ action: "provider", id: provider.id }) }));
    }
    return h("div", { className: "stytch-form" }, rows);
  }

  function setMessage(node, text, detail, key) {
    const signature = JSON.stringify([text, detail]);
    if (node.dataset.signature === signature) return; // unchanged: no new announcement
    node.dataset.signature = signature;
    node.replaceChildren();
    node.hidden = !text;
    node.removeAttribute("title");
    if (!text) openDetails.delete(key); // the next message starts with its details closed
    if (text) {
      const part = disclosure(key, text, detail, "stytch-message");
      node.append(...part.childNodes);
      if (detail && detail !== text) node.title = detail;
    }
  }

  function paint() {
    const s = state();
    const focused = root.contains(document.activeElement) ? document.activeElement : null;
    const focusedRole = focused && focused.dataset ? focused.dataset.role : null;

    const parts = [];
    if (s.reason) parts.push(disclosure("reason", s.reason.text, s.reason.detail, "stytch-reason"));
    if (s.rows && s.rows.length) {
      parts.push(
        h(
          "div",
          { className: "stytch-rows" },
          s.rows.flatMap(([key, value, cls]) => [
            h("span", { className: "stytch-key", text: key }),
            h("span", { className: `stytch-value ${cls}`, text: value }),
          ]),
        ),
      );
    }
    if (s.form) parts.push(form(s));
    if (s.actions && s.actions.length) {
      parts.push(h("div", { className: "stytch-actions" }, s.actions.map((a) => button(a, s))));
    }
    if (s.keep) {
      const box = h("input", {
        type: "checkbox",
        role: "switch",
        "data-role": "keep",
        checked: s.keep.checked,
        "aria-disabled": s.busy ? "true" : null,
      });
      box.checked = Boolean(s.keep.checked);
      box.addEventListener("change", () => {
        if (busy()) {
          box.checked = !box.checked;
          return;
        }
        model.send({ action: "keep_signed_in", value: box.checked });
      });
      parts.push(
        h("label", { className: "stytch-keep", title: s.keep.title }, [
          box,
          h("span", { text: s.keep.label }),
        ]),
      );
    }

    // One synchronous swap: classes, status, body and messages change together.
    root.className = `stytch-session-widget stytch-${s.kind || "signed-out"}` +
      (s.busy ? " stytch-busy" : "");
    root.setAttribute("aria-busy", s.busy ? "true" : "false");
    root.dataset.state = s.kind || "";
    if (status.textContent !== s.status) {
      status.replaceChildren(h("span", { className: "stytch-dot", "aria-hidden": "true" }),
        h("span", { className: "stytch-status-text", text: s.status || "" }));
    }
    body.replaceChildren(...parts);
    setMessage(info, s.info || "", "", "info");
    setMessage(error, s.error ? s.error.text : "", s.error ? s.error.detail : "", "error");

    // Focus: where the kernel asked (a code was sent: the code field), else where it was.
    const askedNow = s.focus_id !== lastFocusId && lastFocusId !== null;
    lastFocusId = s.focus_id;
    if (!ownsFocus) return;
    let target = null;
    if (askedNow && s.focus) target = root.querySelector(`[data-role=${s.focus}]`);
    if (!target && focusedRole) target = root.querySelector(`[data-role="${focusedRole}"]`);
    if (!target && (!focused || !root.contains(focused))) {
      target = root.querySelector("input:not([type=checkbox]), button:not([disabled])");
    }
    if (target && target !== document.activeElement) target.focus();
  }

  model.on("change:state", paint);
  paint();
  return () => model.off("change:state", paint);
}

export default { render };
