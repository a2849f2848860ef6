// Sign in (staff). A wrong password and a rate limit each get a plain sentence; the server's
// problem detail is the fallback for anything else.

import { ApiError } from "../api.js";
import { field, fill, h, showMessage, statusArea } from "../dom.js";

let notice = null; // said once on the next sign-in screen ("You are signed out.")

export function setNotice(text) {
  notice = text;
}

export function messageFor(error) {
  if (!(error instanceof ApiError)) return "Something went wrong. Try again.";
  if (error.status === 401) return "The email or password is not right. Check both and try again.";
  if (error.status === 429) {
    const minutes = error.retryAfter ? Math.max(1, Math.ceil(error.retryAfter / 60)) : null;
    const when = minutes ? `in ${minutes} minute${minutes === 1 ? "" : "s"}` : "later";
    return `Too many failed sign-ins. For your security, signing in is paused; try again ${when}.`;
  }
  if (error.status === 422) return "Enter a valid email address and your password.";
  if (error.status === 0) return error.detail;
  return error.detail || "The server could not sign you in. Try again.";
}

export function render(ctx) {
  const message = statusArea("alert");
  const email = h("input", { type: "email", name: "email", autocomplete: "username", required: true, spellcheck: "false" });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit", class: "button-primary" }, "Sign in");
  const form = h(
    "form",
    { class: "signin-form", novalidate: true, "aria-labelledby": "signin-title" },
    field("Email", email),
    field("Password", password),
    message,
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!email.value.trim() || !password.value) {
      showMessage(message, "Enter your email and password.", "error");
      (email.value.trim() ? password : email).focus();
      return;
    }
    submit.disabled = true;
    fill(submit, "Signing in…");
    showMessage(message, "");
    try {
      const tokens = await ctx.api.signIn(email.value.trim(), password.value);
      if (tokens.role !== "counselor" && tokens.role !== "supervisor") {
        ctx.api.signOut();
        showMessage(message, "This console is for counselors and supervisors. Graduates use the Aftercare app.", "error");
        return;
      }
      password.value = "";
      notice = null;
      await ctx.app.signedIn();
    } catch (error) {
      ctx.api.signOut();
      showMessage(message, messageFor(error), "error");
      password.select();
      password.focus();
    } finally {
      submit.disabled = false;
      fill(submit, "Sign in");
    }
  });

  const noticeArea = statusArea("status");
  if (notice) showMessage(noticeArea, notice, "info");
  fill(
    ctx.main,
    h(
      "section",
      { class: "signin" },
      h("div", { class: "signin-brand" }, h("span", { class: "brand-mark", "aria-hidden": "true" }, "A"), "Aftercare"),
      h("h1", { id: "signin-title", tabindex: "-1" }, "Sign in to the counselor console"),
      h("p", { class: "lede" }, "For counselors and supervisors of the program."),
      noticeArea,
      form,
      h(
        "p",
        { class: "fine-print" },
        "If someone is in immediate danger, call your local emergency number. This console is not an emergency service.",
      ),
    ),
  );
  email.focus();
}
