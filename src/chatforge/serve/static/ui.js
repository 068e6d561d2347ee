// Clicking a citation mark [n] (class cf-cite-n; the sanitizer drops data- attributes) in an answer opens passage n in that answer's source list.
(() => {
  if (window.chatforgeCitations) return;
  window.chatforgeCitations = true;
  document.addEventListener("click", (event) => {
    const mark = event.target.closest && event.target.closest(".cf-cite");
    if (!mark) return;
    const answer = mark.closest(".cf-answer");
    const list = answer && answer.parentElement.querySelector(".cf-sources");
    const n = (mark.className.match(/cf-cite-(\d+)/) || [])[1];
    const passage = n && list && list.querySelector(`.cf-source-${n}`);
    if (!passage) return;
    passage.open = true;
    passage.classList.add("cf-flash");
    setTimeout(() => passage.classList.remove("cf-flash"), 1200);
    passage.scrollIntoView({ block: "nearest", behavior: "smooth" });
  });
})();
