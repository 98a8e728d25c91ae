// Talking to the API: JSON in and out, the chosen site, and signing in when a write answers 401.
//
// The session is the HttpOnly `shuian_session` cookie the login sets: the browser sends it, no
// script can read it, and nothing secret is kept in localStorage or sessionStorage. Only the
// signed-in user's name is kept there (USER_KEY), to show it in the header.

import { t } from "./i18n.js";

const USER_KEY = "shuian.user";
localStorage.removeItem("shuian.token"); // a bearer token an older page kept: forget it

/** The site chosen in the header (null: the server's only / default site). */
let siteCode = null;

export function setSite(code) {
  siteCode = code;
}

/** An API URL with the chosen site added (every endpoint takes `site`). */
export function apiUrl(path, params = {}) {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  if (siteCode) url.searchParams.set("site", siteCode);
  return url.pathname + url.search;
}

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

function headers(extra = {}) {
  return { Accept: "application/json", ...extra };
}

async function answer(response) {
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const message = body && body.error ? body.error.message : response.statusText;
    throw new ApiError(message || `HTTP ${response.status}`, response.status);
  }
  return body;
}

/** GET JSON from the API (signing in first when the server wants it for reads too). */
export async function getJSON(path, params) {
  const send = async () => fetch(apiUrl(path, params), {
    headers: headers(), credentials: "same-origin",
  });
  let response = await send();
  if (response.status === 401 && path !== "/openapi.json") {
    await login();
    response = await send();
  }
  return answer(response);
}

/** POST JSON; on 401 ask the user to sign in, then try once more. */
export async function postJSON(path, body, params) {
  const send = async () => fetch(apiUrl(path, params), {
    method: "POST",
    headers: headers({ "Content-Type": "application/json" }),
    body: JSON.stringify(body),
    credentials: "same-origin",
  });
  let response = await send();
  if (response.status === 401) {
    await login();
    response = await send();
  }
  return answer(response);
}

/** The signed-in user's name, or null. */
export function currentUser() {
  return localStorage.getItem(USER_KEY);
}

/** Ask the server whether the session still holds; the user's name, or null (and forgotten). */
export async function checkSession() {
  if (!currentUser()) return null; // nobody signed in here: do not ask (a 401 in the console)
  const response = await fetch("/api/auth/me", {
    headers: headers(), credentials: "same-origin",
  }).catch(() => null);
  if (response === null || response.status >= 500) return currentUser(); // server away: keep
  const body = response.ok ? await response.json().catch(() => null) : null;
  if (!body || body.kind !== "user") {
    localStorage.removeItem(USER_KEY);
    return null;
  }
  localStorage.setItem(USER_KEY, body.name);
  return body.name;
}

/** Sign out: the server ends the session and clears the cookie; the name is forgotten here. */
export async function logout() {
  const response = await fetch("/api/auth/logout", {
    method: "POST", headers: headers(), credentials: "same-origin",
  });
  if (!response.ok && response.status !== 401) await answer(response); // 401: ended already
  localStorage.removeItem(USER_KEY);
  document.dispatchEvent(new CustomEvent("shuian:logout"));
}

// ---- sign in ---------------------------------------------------------------------------------

let pending = null;

/** Show the sign-in dialog; resolve once signed in, reject when cancelled. */
export function login() {
  if (pending) return pending;
  const dialog = document.getElementById("login");
  const form = dialog.querySelector("form");
  const message = dialog.querySelector(".login-message");
  message.textContent = "";
  pending = new Promise((resolve, reject) => {
    const finish = (ok, value) => {
      form.removeEventListener("submit", onSubmit);
      dialog.removeEventListener("close", onClose);
      pending = null;
      if (dialog.open) dialog.close();
      if (ok) resolve(value);
      else reject(new ApiError(t("login.why"), 401));
    };
    const onClose = () => finish(false);
    const onSubmit = async (event) => {
      event.preventDefault();
      if (event.submitter && event.submitter.value === "cancel") {
        finish(false);
        return;
      }
      const data = new FormData(form);
      try {
        const response = await fetch("/api/auth/login", {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "application/json" },
          body: JSON.stringify({
            username: data.get("username"),
            password: data.get("password"),
          }),
          credentials: "same-origin",
        });
        const body = await answer(response); // its token is not kept: the cookie is the session
        const user = (body && body.username) || data.get("username");
        localStorage.setItem(USER_KEY, String(user));
        document.dispatchEvent(new CustomEvent("shuian:login", { detail: { user } }));
        finish(true, body);
      } catch (error) {
        message.textContent = t("login.failed", { message: error.message });
      }
    };
    form.addEventListener("submit", onSubmit);
    dialog.addEventListener("close", onClose);
  });
  dialog.showModal();
  form.querySelector("input[name=username]").focus();
  return pending;
}
