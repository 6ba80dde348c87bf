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
  paste: "stytch-paste-submit",
  // B2B (b2b_widget.py)
  send_link: "stytch-send-link",
  create_org: "stytch-create-org",
  verify: "stytch-verify",
  sms_send: "stytch-sms-send",
  use_totp: "stytch-use-totp",
  use_recovery: "stytch-use-recovery",
  start_over: "stytch-start-over",
  switch: "stytch-switch",
  switch_cancel: "stytch-switch-cancel",
  pick: "stytch-pick",
  switch_to: "stytch-pick",
  sso: "stytch-sso",
};
const RELAY_MESSAGE = "stytch-jupyter:redirect";

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

  function sendCode(action = "send_code") {
    if (busy()) return;
    const input = root.querySelector("[data-role=email]");
    const org = root.querySelector("[data-role=org_slug]");
    const leftover = root.querySelector("[data-role=code]");
    if (leftover) leftover.value = ""; // a new code: what was typed for the old one goes
    const message = { action, email: input ? input.value : "" };
    if (org) message.organization = org.value;
    send(message);
  }

  // B2B: the MFA code, like the email code, lives only in the one message.
  function verify() {
    const input = root.querySelector("[data-role=mfa_code]");
    if (!input || busy()) return;
    const code = input.value;
    input.value = "";
    model.send({ action: "verify", code });
  }

  function createOrg() {
    const input = root.querySelector("[data-role=org_name]");
    send({ action: "create_org", name: input ? input.value : "" });
  }

  // SSO opens its window at the click, as a provider's does.
  function continueWithSso(id) {
    if (busy()) return;
    signInWindow = window.open("about:blank", "stytch-sign-in", "popup,width=520,height=700");
    model.send({ action: "sso", id, origin: window.location.origin });
  }

  function signIn() {
    const input = root.querySelector("[data-role=code]");
    if (!input || busy()) return;
    const code = input.value;
    input.value = ""; // cleared as it is sent: it lives nowhere but in that one message
    model.send({ action: "sign_in", code });
  }

  // A provider's window is opened at the click (a window opened later, when the kernel answers
  // with the start URL, would be blocked as a popup); the kernel's answer then points it there.
  let signInWindow = null; // also used by continueWithSso above (called after render)

  function continueWith(provider) {
    if (busy()) return;
    signInWindow = window.open("about:blank", "stytch-sign-in", "popup,width=520,height=700");
    model.send({ action: "provider", id: provider.id, origin: window.location.origin });
  }

  function onKernelMessage(message) {
    if (!message || typeof message.open !== "string") return;
    if (signInWindow && !signInWindow.closed) signInWindow.location.href = message.open;
    else signInWindow = window.open(message.open, "stytch-sign-in");
  }

  // The relay page, opened in that window, posts the redirect back here: only its own origin
  // (from the kernel's state) is listened to, and the token goes on in one message.
  function onWindowMessage(event) {
    const relay = state().relay_origin;
    const data = event.data;
    if (!relay || event.origin !== relay || !data || data.type !== RELAY_MESSAGE) return;
    if (typeof data.token !== "string" || !data.token) return;
    model.send({ action: "redirect", flow: data.flow, stytch_token_type: data.stytch_token_type,
      token: data.token });
    if (signInWindow && !signInWindow.closed) signInWindow.close();
  }

  function paste() {
    const input = root.querySelector("[data-role=paste]");
    if (!input || busy()) return;
    const link = input.value;
    input.value = ""; // like the code: it lives only in the one message
    model.send({ action: "paste", link });
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

  function pasteLine(s) {
    const box = h("input", {
      type: "password",
      className: "stytch-input stytch-paste",
      "data-role": "paste",
      "aria-label": "Address a sign-in link opened",
      placeholder: "or paste the address a sign-in link opened",
      autocomplete: "off",
      readonly: s.busy ? true : null,
      onkeydown: onEnter(paste),
    });
    const oldPaste = root.querySelector("[data-role=paste]");
    box.value = oldPaste ? oldPaste.value : "";
    return h("div", { className: "stytch-line" }, [
      box,
      button({ id: "paste", label: "Continue", title: "Finish the sign-in with that address" },
        s, { onclick: paste }),
    ]);
  }

  function pasteOnly(s) {
    return h("div", { className: "stytch-form" }, [pasteLine(s)]);
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
    const rows = s.form.b2b ? b2bEmailRows(s, email) : [
      h("div", { className: "stytch-line" }, [
        email,
        button({ id: "send_code", label: s.form.send_label, title: "Email a one-time sign-in code",
          primary: s.form.step === "email" }, s, { onclick: () => sendCode() }),
      ]),
    ];
    if (s.form.step === "code") {
      const code = h("input", {
        type: "password",
        className: "stytch-input stytch-code",
        "data-role": "code",
        "aria-label": s.form.code_label || "Code from the email",
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
          button({ id: "sign_in", label: s.form.b2b ? "Continue" : "Sign in",
            title: "Sign in with the emailed code", primary: true }, s, { onclick: signIn }),
        ]),
      );
    }
    if ((s.providers || []).length) {
      rows.push(h("div", { className: "stytch-line stytch-providers" }, s.providers.map(
        (provider) => button({ id: `provider-${provider.id}`, label: `Continue with ${provider.name}`,
          title: provider.title || "" }, s, { onclick: () => continueWith(provider) }))));
    }
    if (s.sso) {
      rows.push(h("div", { className: "stytch-line stytch-providers" }, [
        button({ id: "sso", label: s.sso.label, title: s.sso.title }, s,
          { onclick: () => continueWithSso(s.sso.id) }),
      ]));
    }
    if (s.paste) rows.push(pasteLine(s));
    return h("div", { className: "stytch-form" }, rows);
  }

  // ---- B2B parts (b2b_widget.py) ----

  function b2bEmailRows(s, email) {
    const oldOrg = root.querySelector("[data-role=org_slug]");
    const org = h("input", {
      type: "text",
      className: "stytch-input stytch-org-slug",
      "data-role": "org_slug",
      "aria-label": "Organization (optional: leave empty to find yours)",
      placeholder: "organization (optional)",
      autocomplete: "organization",
      spellcheck: "false",
      readonly: s.busy ? true : null,
      onkeydown: onEnter(() => sendCode()),
    });
    org.value = oldOrg ? oldOrg.value : s.form.organization || "";
    return [
      h("div", { className: "stytch-line" }, [email]),
      h("div", { className: "stytch-line" }, [
        org,
        button({ id: "send_code", label: s.form.send_label, title: "Email a one-time code",
          primary: s.form.step === "email" }, s, { onclick: () => sendCode() }),
        button({ id: "send_link", label: s.form.link_label, title: "Email a sign-in link" }, s,
          { onclick: () => sendCode("send_link") }),
      ]),
    ];
  }

  function picker(s) {
    const orgs = s.orgs;
    const action = orgs.purpose === "switch" ? "switch_to" : "pick";
    const items = orgs.items.map((item) => {
      const label = h("span", { className: "stytch-org-label" }, [
        h("span", { className: "stytch-org-name", text: item.name }),
        item.slug !== item.name ? h("span", { className: "stytch-org-slug-text", text: item.slug })
          : null,
      ]);
      const pick = h("button", {
        type: "button",
        className: "stytch-button stytch-pick" + (s.busy === action ? " stytch-running" : ""),
        "data-role": "pick",
        "data-org": item.slug,
        "aria-current": item.current ? "true" : null,
        "aria-disabled": s.busy ? "true" : null,
        title: `${orgs.title} ${item.name}`,
        onclick: () => send({ action, id: item.id }),
      }, [label]);
      const notes = item.notes.length
        ? h("span", { className: "stytch-org-note", text: item.notes.join(" · ") }) : null;
      const sso = item.sso
        ? button({ id: "sso", label: "Continue with SSO", title: `Sign in to ${item.name} with SSO` },
          s, { onclick: () => continueWithSso(item.id) }) : null;
      return h("li", { className: "stytch-org" }, [pick, notes, sso]);
    });
    const parts = [h("div", { className: "stytch-orgs-label", text: orgs.label })];
    parts.push(items.length ? h("ul", { className: "stytch-org-list", "aria-label": orgs.label },
      items) : h("div", { className: "stytch-orgs-empty", text: orgs.empty }));
    return h("div", { className: "stytch-orgs" }, parts);
  }

  function createForm(s) {
    const old = root.querySelector("[data-role=org_name]");
    const name = h("input", {
      type: "text",
      className: "stytch-input stytch-org-name",
      "data-role": "org_name",
      "aria-label": "Name of the new organization",
      placeholder: s.create.placeholder,
      readonly: s.busy ? true : null,
      onkeydown: onEnter(createOrg),
    });
    name.value = old ? old.value : "";
    return h("div", { className: "stytch-line stytch-create" }, [
      name,
      button({ id: "create_org", label: s.create.label, title: "Create it, with you as its admin" },
        s, { onclick: createOrg }),
    ]);
  }

  function mfaStep(s) {
    const mfa = s.mfa;
    const parts = [];
    if (mfa.hint) parts.push(h("div", { className: "stytch-mfa-hint", text: mfa.hint }));
    if (mfa.code) {
      const code = h("input", {
        type: "password",
        className: "stytch-input stytch-code stytch-mfa-code",
        "data-role": "mfa_code",
        "aria-label": mfa.label,
        placeholder: mfa.label.toLowerCase(),
        autocomplete: "one-time-code",
        inputmode: mfa.method === "recovery" ? "text" : "numeric",
        readonly: s.busy ? true : null,
        onkeydown: onEnter(verify),
      });
      const old = root.querySelector("[data-role=mfa_code]");
      // A code typed for another way (app, text, recovery) is not kept for this one.
      code.value = old && old.dataset.method === mfa.method ? old.value : "";
      code.dataset.method = mfa.method;
      parts.push(h("div", { className: "stytch-line" }, [
        code,
        button({ id: "verify", label: "Verify", title: "Check the code", primary: true }, s,
          { onclick: verify }),
      ]));
    } else if (mfa.send) {
      parts.push(h("div", { className: "stytch-line" }, [
        button({ id: "sms_send", label: "Text me a code", title: "Send a code to your phone",
          primary: true }, s),
      ]));
    }
    if (mfa.ways.length) {
      parts.push(h("div", { className: "stytch-line stytch-mfa-ways" },
        mfa.ways.map((way) => button(way, s))));
    }
    return h("div", { className: "stytch-mfa", role: "group", "aria-label": "Second factor" },
      parts);
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
    if (s.orgs) parts.push(picker(s));
    if (s.create) parts.push(createForm(s));
    if (s.mfa) parts.push(mfaStep(s));
    if (s.form) parts.push(form(s));
    else if (s.paste) parts.push(pasteOnly(s));
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
  model.on("msg:custom", onKernelMessage);
  window.addEventListener("message", onWindowMessage);
  paint();
  return () => {
    model.off("change:state", paint);
    model.off("msg:custom", onKernelMessage);
    window.removeEventListener("message", onWindowMessage);
  };
}

export default { render };
