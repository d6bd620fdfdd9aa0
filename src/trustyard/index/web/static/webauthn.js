// Security keys (W3C WebAuthn Level 2): the only script a second factor needs. A form marked
// data-webauthn="create" or "get" carries the server's options (JSON, made by py_webauthn) in
// data-options; on submit this asks the browser for a credential, puts the answer's parts in
// the form's hidden fields as base64url (RFC 4648 §5) and sends the form as usual. No inline
// script, no fetch: the strict Content-Security-Policy stays as it is.
"use strict";

function fromBase64url(text) {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

function toBase64url(buffer) {
  let binary = "";
  for (const byte of new Uint8Array(buffer)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function creationOptions(options) {
  options.challenge = fromBase64url(options.challenge);
  options.user.id = fromBase64url(options.user.id);
  for (const c of options.excludeCredentials || []) c.id = fromBase64url(c.id);
  return { publicKey: options };
}

function requestOptions(options) {
  options.challenge = fromBase64url(options.challenge);
  for (const c of options.allowCredentials || []) c.id = fromBase64url(c.id);
  return { publicKey: options };
}

function fill(form, name, value) {
  const field = form.elements.namedItem(name);
  if (field) field.value = value;
}

async function answer(form) {
  const options = JSON.parse(form.dataset.options);
  if (form.dataset.webauthn === "create") {
    const credential = await navigator.credentials.create(creationOptions(options));
    fill(form, "credential_id", toBase64url(credential.rawId));
    fill(form, "client_data", toBase64url(credential.response.clientDataJSON));
    fill(form, "attestation", toBase64url(credential.response.attestationObject));
    const transports = credential.response.getTransports ? credential.response.getTransports() : [];
    fill(form, "transports", transports.join(","));
  } else {
    const credential = await navigator.credentials.get(requestOptions(options));
    fill(form, "credential_id", toBase64url(credential.rawId));
    fill(form, "client_data", toBase64url(credential.response.clientDataJSON));
    fill(form, "authenticator_data", toBase64url(credential.response.authenticatorData));
    fill(form, "signature", toBase64url(credential.response.signature));
    const handle = credential.response.userHandle;
    fill(form, "user_handle", handle ? toBase64url(handle) : "");
  }
}

document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form[data-webauthn]")) {
    const status = form.querySelector(".webauthn-status");
    if (!window.PublicKeyCredential) {
      if (status) status.textContent = "This browser cannot use security keys.";
      continue;
    }
    for (const button of form.querySelectorAll("button[hidden]")) button.hidden = false;
    form.addEventListener("submit", async (event) => {
      if (form.dataset.answered === "yes") return;
      event.preventDefault();
      if (!form.reportValidity()) return;
      if (status) status.textContent = "Waiting for the security key…";
      try {
        await answer(form);
      } catch (error) {
        if (status) status.textContent = "The security key did not answer: " + error.message;
        return;
      }
      form.dataset.answered = "yes";
      form.submit();
    });
  }
});
