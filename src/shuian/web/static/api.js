// Talking to the API: JSON in and out, the chosen site, and signing in when a write answers 401.

import { t } from "./i18n.js";

const TOKEN_KEY = "shuian.token";
const USER_KEY = "shuian.user";

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
  const out = { Accept: "application/json", ...extra };
  const token = localStorage.getItem(TOKEN_KEY);
  if (token) out.Authorization = `Bearer ${token}`;
  return out;
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
  const send = async () => fetch(apiUrl(path, params), { headers: headers() });
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
        const body = await answer(response);
        if (body && body.token) localStorage.setItem(TOKEN_KEY, body.token);
        const user = (body && (body.username || (body.user && body.user.username) || body.user))
          || data.get("username");
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
