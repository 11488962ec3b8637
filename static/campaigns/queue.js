// The waiting room's page. Joining: solve the proof-of-work challenge with ALTCHA's library
// (PBKDF2 in the browser's WebCrypto) and post the join form. Waiting: poll the status
// endpoint and show the place; on the turn, go on to the booking form.
// Every text a person reads comes from the page (data-* attributes, written in the page's
// language) or from the status answer (wait_text): the script has no words of its own.
import { pbkdf2, solveChallenge } from "../vendor/altcha/altcha-lib.min.js";

const join = document.getElementById("queue-join");
const box = document.getElementById("queue");

async function solveAndJoin() {
  const progress = document.getElementById("join-progress");
  const button = document.getElementById("join-button");
  if (button) button.disabled = true;
  progress.textContent = join.dataset.working;
  try {
    const challenge = JSON.parse(join.dataset.challenge);
    const solution = await solveChallenge({ challenge, deriveKey: pbkdf2.deriveKey });
    if (!solution) throw new Error("no solution in time");
    join.elements.altcha.value = btoa(JSON.stringify({ challenge, solution }));
    join.submit();
  } catch (error) {
    progress.textContent = join.dataset.failed;
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

// The live region speaks only when something changes for the person: a new state, or a new
// estimate (the server rounds it to minutes). The place and the people ahead change at every
// poll, so they are said with the estimate, not each time.
let announced = "";
if (box) {
  const wait = document.getElementById("queue-wait");
  announced = `${box.dataset.state}|${wait ? wait.textContent.trim() : ""}`;
}
function announce(s) {
  const region = document.getElementById("queue-announce");
  if (!region) return;
  const key = `${s.state}|${s.wait_text || ""}`;
  if (key === announced) return;
  announced = key;
  const heading = box.querySelector(`[data-show="${s.state}"] h2`);
  const parts = [heading ? heading.textContent.trim() : ""];
  if (s.state === "waiting") {
    const r = region.dataset;
    parts.push(`${r.position} ${s.position}`, `${r.ahead} ${s.ahead}`, `${r.wait} ${s.wait_text}`);
  }
  region.textContent = parts.filter(Boolean).join(". ");
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
          document.getElementById("queue-wait").textContent = s.wait_text;
        }
        announce(s);
        box.dataset.state = s.state;
        poll(s.poll_after || 2);
      })
      .catch(() => poll(5));
  }, after * 1000);
}

if (box && box.dataset.poll && box.dataset.poll !== "0") poll(Number(box.dataset.poll));
