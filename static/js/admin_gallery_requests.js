/* The admin gallery, part 2 of 3 (see admin_gallery.js): what talks to the server — the queue of
 * files to send (each in a request of its own, at most IN_FLIGHT at once) and the library's search. */
(() => {
  "use strict";

  const {el, button, plural} = window.cmtchGallery;
  // Requests at once: each holds an FTP connection of the server's pool and waits its turn for the one
  // decode slot. Two keep the server busy (one decodes while the other uploads) for the same total
  // time as three, and each request waits for one photo less (bench/gallery_upload.py).
  const IN_FLIGHT = 2;

  /* ---- files to send, at most IN_FLIGHT at once, each in its own request ---- */

  class Uploads {
    constructor(gallery, url) {
      this.gallery = gallery;
      this.url = url;
      this.waiting = [];
      this.running = 0;
      this.total = 0;
      this.sent = 0;
      this.failed = 0;
    }

    get busy() {
      return this.running > 0 || this.waiting.length > 0;
    }

    add(file, card) {
      this.total += 1;
      this.queue(file, card);
    }

    queue(file, card) {
      const progress = el("progress", {max: "1", value: "0", "aria-label": `Envoi de ${file.name}`});
      card.node.classList.remove("has-error");
      card.node.classList.add("is-uploading");
      card.showStatus(progress, el("span", {class: "gallery-note", text: "En attente…"}));
      this.waiting.push({file, card, progress});
      this.next();
      this.gallery.showCount();
    }

    next() {
      while (this.running < IN_FLIGHT && this.waiting.length) {
        this.running += 1;
        this.send(this.waiting.shift());
      }
    }

    send({file, card, progress}) {
      const note = card.status.querySelector(".gallery-note");
      note.textContent = "Envoi…";
      const request = new XMLHttpRequest();
      request.open("POST", this.url);
      request.responseType = "json"; // an HTML page (the login form) gives null
      request.setRequestHeader("X-CSRFToken", this.gallery.csrfToken());
      request.setRequestHeader("Accept", "application/json");
      request.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable) {
          progress.max = event.total;
          progress.value = event.loaded;
        }
      });
      request.upload.addEventListener("load", () => {
        progress.removeAttribute("value"); // the server checks the photo and sends it to HostGator
        note.textContent = "Vérification et envoi à HostGator…";
      });
      const done = (photo, error) => {
        this.running -= 1;
        card.node.classList.remove("is-uploading");
        if (photo) {
          this.sent += 1;
          this.gallery.uploaded(card, photo);
        } else {
          this.failed += 1;
          this.showError(file, card, error);
        }
        this.next();
        this.gallery.showCount();
      };
      request.addEventListener("load", () => {
        const answer = request.response;
        if (request.status === 201 && answer && answer.id) done(answer);
        else done(null, this.reason(request, answer));
      });
      request.addEventListener("error", () => done(null, "La connexion au site a été coupée : vérifiez le réseau, puis réessayez."));
      request.addEventListener("abort", () => done(null, "Envoi interrompu."));
      const data = new FormData();
      data.append("file", file);
      data.append("slug", this.gallery.field("slug"));
      data.append("title", this.gallery.field("title"));
      request.send(data);
    }

    reason(request, answer) {
      if (answer && answer.error) return answer.error;
      if (request.responseURL && request.responseURL.includes("/login/")) {
        return "Votre session a expiré : reconnectez-vous dans un autre onglet, puis réessayez.";
      }
      if (request.status === 403) return "Envoi refusé : rechargez la page (session ou droits), puis réessayez.";
      if (request.status === 413) return "Fichier trop lourd pour le serveur.";
      return `Le serveur n'a pas pu prendre la photo (erreur ${request.status}) : réessayez dans un moment.`;
    }

    showError(file, card, error) {
      card.node.classList.add("has-error");
      const retry = button("Réessayer", "gallery-retry", () => {
        this.failed -= 1;
        this.queue(file, card);
        card.node.focus();
      }, `Réessayer l'envoi de ${file.name}`);
      const dismiss = button("Ne pas l'ajouter", "gallery-dismiss", () => {
        this.failed -= 1;
        this.total -= 1;
        card.node.remove();
        this.gallery.showCount();
      });
      card.showStatus(el("p", {class: "errornote gallery-error", role: "alert"}, error),
                      el("div", {class: "gallery-actions"}, retry, dismiss));
    }

    summary() {
      if (!this.total) return "";
      let text = `${this.sent} sur ${this.total} ${plural(this.sent, "envoyée")}`;
      if (this.failed) text += ` · ${this.failed} ${plural(this.failed, "refusée")}`;
      if (this.busy) text += ` · ${this.running + this.waiting.length} en cours`;
      return text;
    }
  }

  /* ---- photos of the library, to reuse ---- */

  class Library {
    constructor(gallery, url) {
      this.gallery = gallery;
      this.url = url;
      this.query = el("input", {type: "search", id: "gallery-library-q", name: "q", autocomplete: "off",
                                placeholder: "légende, crédit, nom du fichier…"});
      this.month = el("input", {type: "month", id: "gallery-library-mois", name: "mois", placeholder: "AAAA-MM"});
      this.state = el("p", {class: "gallery-library-state", role: "status", "aria-live": "polite"});
      this.results = el("ul", {class: "gallery-library-results"});
      this.dialog = el("dialog", {class: "gallery-library", "aria-labelledby": "gallery-library-title"},
        el("div", {class: "gallery-library-head"},
           el("h2", {id: "gallery-library-title", text: "Choisir dans la photothèque"}),
           button("Fermer", "gallery-library-close", () => this.dialog.close())),
        el("div", {class: "gallery-library-search"},
           el("div", {class: "gallery-field"}, el("label", {for: this.query.id, text: "Rechercher"}), this.query),
           el("div", {class: "gallery-field"}, el("label", {for: this.month.id, text: "Mois (AAAA-MM)"}), this.month)),
        this.state, this.results);
      // Outside the article's form: its inputs are not posted with the article, and no form nests.
      document.body.append(this.dialog);
      let timer;
      const later = () => { clearTimeout(timer); timer = setTimeout(() => this.search(), 250); };
      this.query.addEventListener("input", later);
      this.month.addEventListener("change", later);
      this.query.addEventListener("keydown", (event) => {
        if (event.key === "Enter") { event.preventDefault(); clearTimeout(timer); this.search(); }
      });
    }

    open() {
      this.dialog.showModal();
      this.query.focus();
      this.search();
    }

    async search() {
      if (this.pending) this.pending.abort();
      this.pending = new AbortController();
      const params = new URLSearchParams();
      if (this.query.value.trim()) params.set("q", this.query.value.trim());
      if (this.month.value) params.set("mois", this.month.value);
      this.state.textContent = "Recherche…";
      try {
        const response = await fetch(`${this.url}?${params}`, {
          headers: {Accept: "application/json"}, credentials: "same-origin", signal: this.pending.signal});
        const answer = await response.json().catch(() => null);
        if (!response.ok || !answer || !answer.photos) {
          this.state.textContent = (answer && answer.error) || "La recherche n'a pas abouti : réessayez.";
          this.results.replaceChildren();
          return;
        }
        this.show(answer.photos, answer.limit);
      } catch (error) {
        if (error.name !== "AbortError") this.state.textContent = "La recherche n'a pas abouti : vérifiez le réseau.";
      }
    }

    show(found, limit) {
      const count = found.length;
      this.state.textContent = count === 0 ? "Aucune photo ne correspond."
        : `${count} ${plural(count, "photo")}${count >= limit ? ` (les ${limit} plus récentes : précisez la recherche)` : ""}`;
      this.results.replaceChildren(...found.map((photo) => {
        const pick = el("button", {type: "button", class: "gallery-library-pick"},
          el("img", {src: photo.thumbnail_url, alt: "", loading: "lazy"}),
          el("span", {class: "gallery-library-caption", text: photo.caption || photo.label}),
          el("span", {class: "gallery-library-credit", text: photo.credit}),
          el("span", {class: "gallery-library-date", text: photo.uploaded_at}));
        const mark = () => {
          pick.disabled = true;
          pick.classList.add("is-chosen");
          pick.append(el("span", {class: "gallery-library-chosen", text: "Dans la galerie"}));
        };
        if (this.gallery.cardFor(photo.id)) mark();
        pick.addEventListener("click", () => {
          this.gallery.placed(photo);
          mark();
          this.state.textContent = `« ${photo.caption || photo.label} » ajoutée à la galerie.`;
        });
        return el("li", {}, pick);
      }));
    }
  }

  Object.assign(window.cmtchGallery, {Uploads, Library});
})();
