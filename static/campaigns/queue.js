// The waiting room's page. Joining: solve the proof-of-work challenge with ALTCHA's library
// (PBKDF2 in the browser's WebCrypto) and post the join form. Waiting: poll the status
// endpoint and show the place; on the turn, go on to the booking form.
import { pbkdf2, solveChallenge } from "../vendor/altcha/altcha-lib.min.js";

const join = document.getElementById("queue-join");
const box = document.getElementById("queue");

async function solveAndJoin() {
  const progress = document.getElementById("join-progress");
  const button = document.getElementById("join-button");
  if (button) button.disabled = true;
  progress.textContent = "Working… (a few seconds)";
  try {
    const challenge = JSON.parse(join.dataset.challenge);
    const solution = await solveChallenge({ challenge, deriveKey: pbkdf2.deriveKey });
    if (!solution) throw new Error("no solution in time");
    join.elements.altcha.value = btoa(JSON.stringify({ challenge, solution }));
    join.submit();
  } catch (error) {
    progress.textContent = "Something went wrong; reloading the page to try again.";
    setTimeout(() => window.location.reload(), 3000);
  }
}

if (join) {
  join.addEventListener("submit", (event) => {
    if (!join.elements.altcha.value) {
      event.preventDefault();
      solveAndJoin();
    }
  });
  if (join.dataset.auto === "1") solveAndJoin();
}

function show(state) {
  box.querySelectorAll("[data-show]").forEach((el) => {
    el.hidden = el.dataset.show !== state;
  });
}

function poll(after) {
  setTimeout(() => {
    fetch(box.dataset.statusUrl, { credentials: "same-origin", cache: "no-store" })
      .then((r) => r.json())
      .then((s) => {
        if (s.state === "admitted" && s.next) {
          show("admitted");
          window.location.assign(s.next);
          return;
        }
        if (["no_ticket", "closed", "expired"].includes(s.state)) {
          window.location.reload();
          return;
        }
        show(s.state);
        if (s.state === "waiting") {
          document.getElementById("queue-position").textContent = s.position;
          document.getElementById("queue-ahead").textContent = s.ahead;
          const m = Math.max(1, Math.ceil(s.wait_seconds / 60));
          document.getElementById("queue-wait").textContent =
            "about " + m + " minute" + (m === 1 ? "" : "s");
        }
        poll(s.poll_after || 2);
      })
      .catch(() => poll(5));
  }, after * 1000);
}

if (box && box.dataset.poll && box.dataset.poll !== "0") poll(Number(box.dataset.poll));
