/* The article's photo gallery in the admin, as progressive enhancement of Django's tabular inline
 * (prefix "placements"). Without JavaScript the table and the "Ajouter une photo" fieldset work as
 * they are; with it, each row becomes a card (thumbnail, caption, credit, alt text, cover, focal
 * point, order), photos are dropped or chosen several at once and each goes in a request of its
 * own to the upload endpoint, and photos of the library can be picked in a dialog.
 *
 * The row's own inputs are moved into its card, so what the form posts is still Django's formset:
 * the server stays the one judge (alt text required unless decorative, one photo per article...).
 * No inline style anywhere (the Content-Security-Policy forbids it): classes, and CSSOM writes for
 * the focal marker only. Classic script loaded with defer: document.currentScript holds the URLs.
 */
(() => {
  "use strict";

  const script = document.currentScript;
  const PREFIX = "placements";
  const IN_FLIGHT = 3; // requests at once: each one holds an FTP connection of the server's pool
  const PHOTO_FIELDS = ["caption", "credit", "alt_text", "decorative", "focal_x", "focal_y"];
  const RAW_FIELDS = ["id", "article", "photo", "position", "focal_x", "focal_y", "DELETE"];

  /* ---- small helpers ---- */

  function el(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes)) {
      if (value === false || value === null || value === undefined) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    node.append(...children.filter((child) => child !== null && child !== undefined));
    return node;
  }

  function button(text, className, onclick, label) {
    return el("button", {type: "button", class: className, onclick, "aria-label": label}, text);
  }

  function plural(count, word) {
    return count > 1 ? `${word}s` : word;
  }

  function rounded(value) {
    return Math.round(Math.min(1, Math.max(0, value)) * 100) / 100;
  }

  /* ---- one photo's card, around the inputs of its formset row ---- */

  class Card {
    constructor(gallery, name) {
      this.gallery = gallery;
      this.inputs = null; // the row's inputs, once the card has a row
      this.node = el("li", {class: "gallery-card", "data-card": ""});
      this.node.card = this;
      this.nameNode = el("span", {class: "gallery-name", text: name});
      this.handle = el("span", {class: "gallery-handle", "aria-hidden": "true", title: "Glisser pour déplacer"}, "⠿");
      this.node.append(el("div", {class: "gallery-card-head"}, this.handle, this.nameNode,
                          el("span", {class: "gallery-cover-badge", text: "Couverture"})));
      this.status = el("div", {class: "gallery-status"});
      this.node.append(this.status);
    }

    get name() {
      return (this.inputs && this.inputs.caption.value.trim()) || this.nameNode.textContent;
    }

    get active() {
      return Boolean(this.inputs) && !this.node.classList.contains("is-removed")
        && !this.node.classList.contains("is-cleared");
    }

    get photoId() {
      return this.inputs ? this.inputs.photo.value : "";
    }

    showStatus(...children) {
      this.status.replaceChildren(...children);
    }

    /* The row's inputs move into the card: what is posted stays Django's formset. */
    attachRow(row, photo) {
      const field = (name) => row.querySelector(`[name$="-${name}"]`);
      this.inputs = Object.fromEntries([...new Set([...RAW_FIELDS, ...PHOTO_FIELDS, "is_cover"])]
        .map((name) => [name, field(name)]));
      this.node.classList.add("has-row");
      this.node.dataset.photoId = this.inputs.photo.value;
      const errors = (name) => {
        const cell = row.querySelector(`.field-${name}`);
        return cell ? [...cell.querySelectorAll(".errorlist")] : [];
      };
      const rowErrors = row.previousElementSibling && row.previousElementSibling.classList.contains("row-form-errors")
        ? [...row.previousElementSibling.querySelectorAll(".errorlist")] : [];
      this.showStatus(...rowErrors, ...["photo", "position", "focal_x", "focal_y"].flatMap(errors));
      if (photo.message) this.showStatus(...this.status.childNodes, el("p", {class: "gallery-waiting"}, `⏳ ${photo.message}`));

      this.node.insertBefore(this.frame(photo), this.status);
      const label = (name) => this.gallery.labels[name];
      const text = (name, extraClass) => el("div", {class: `gallery-field ${extraClass || ""}`},
                                            el("label", {for: this.inputs[name].id, text: label(name)}),
                                            this.inputs[name], ...errors(name));
      const check = (name, title) => el("div", {class: "gallery-check"}, this.inputs[name],
                                        el("label", {for: this.inputs[name].id, text: label(name), title}),
                                        ...errors(name));
      this.altField = text("alt_text", "gallery-alt");
      this.inputs.alt_text.setAttribute("aria-required", "true");
      this.fields = el("div", {class: "gallery-fields"}, text("caption"), text("credit"), this.altField,
                       el("div", {class: "gallery-checks"},
                          check("decorative", "Rien à décrire : les lecteurs d'écran l'ignorent, pas de texte alternatif."),
                          check("is_cover", "La photo de l'article sur les listes et en tête de page.")));
      this.inputs.decorative.addEventListener("change", () => this.showDecorative());
      this.inputs.is_cover.addEventListener("change", () => this.gallery.coverChanged(this));
      this.raw = el("div", {class: "gallery-raw", hidden: true},
                    ...RAW_FIELDS.map((name) => this.inputs[name]).filter(Boolean));
      this.restore = button("Remettre dans l'article", "gallery-restore", () => this.gallery.restore(this));
      const move = (text, step, verb, keys) => {
        const control = button(text, `gallery-${step < 0 ? "up" : "down"}`, () => this.gallery.move(this, step),
                               `${verb} ${this.nameNode.textContent}`);
        control.title = `${verb} (${keys} sur la photo)`;
        control.setAttribute("aria-keyshortcuts", keys.replace("↑", "ArrowUp").replace("↓", "ArrowDown"));
        return control;
      };
      this.node.append(this.fields, el("div", {class: "gallery-actions"},
        move("↑", -1, "Monter", "Alt+↑"), move("↓", 1, "Descendre", "Alt+↓"),
        button("Retirer de l'article", "gallery-remove", () => this.gallery.remove(this)),
        this.restore), this.raw);
      this.restore.hidden = true;
      this.showDecorative();
      this.showCover();
      this.node.tabIndex = -1; // focused after a retry or a restore
      // Dragged by its head only: a drag started in a text field selects text as usual.
      this.node.querySelector(".gallery-card-head").draggable = true;
    }

    /* The thumbnail: a click (or the arrow keys) sets the focal point the crops follow. */
    frame(photo) {
      if (!photo.thumbnail_url || photo.state === "pending") {
        return el("div", {class: "gallery-frame is-empty"}, el("span", {text: "Aperçu quand la photo sera sur HostGator"}));
      }
      this.image = el("img", {src: photo.thumbnail_url, alt: "", class: "gallery-thumb", draggable: "false"});
      this.marker = el("span", {class: "gallery-focal", "aria-hidden": "true"});
      const focus = el("span", {class: "gallery-focus", tabindex: "0", role: "group",
                                "aria-label": "Point d'intérêt : cliquez sur la photo, ou flèches pour le déplacer"},
                       this.image, this.marker);
      this.image.addEventListener("click", (event) => {
        const box = this.image.getBoundingClientRect();
        this.setFocal((event.clientX - box.left) / box.width, (event.clientY - box.top) / box.height);
      });
      focus.addEventListener("keydown", (event) => {
        const steps = {ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1]}[event.key];
        if (!steps || event.altKey) return;
        event.preventDefault();
        this.setFocal(Number(this.inputs.focal_x.value) + steps[0] * 0.05,
                      Number(this.inputs.focal_y.value) + steps[1] * 0.05);
      });
      this.showFocal();
      return el("div", {class: "gallery-frame"}, focus);
    }

    setFocal(x, y) {
      this.inputs.focal_x.value = rounded(x);
      this.inputs.focal_y.value = rounded(y);
      this.showFocal();
      this.gallery.announce(`Point d'intérêt : ${Math.round(rounded(x) * 100)} % depuis la gauche, `
                            + `${Math.round(rounded(y) * 100)} % depuis le haut.`);
    }

    showFocal() {
      if (!this.marker) return;
      // CSSOM from a script file: allowed by the policy, unlike a style attribute.
      this.marker.style.left = `${Number(this.inputs.focal_x.value) * 100}%`;
      this.marker.style.top = `${Number(this.inputs.focal_y.value) * 100}%`;
    }

    showDecorative() {
      const decorative = this.inputs.decorative.checked;
      this.altField.hidden = decorative;
      this.node.classList.toggle("is-decorative", decorative);
    }

    showCover() {
      this.node.classList.toggle("is-cover", this.inputs.is_cover.checked && this.active);
    }

    fill(photo) {
      this.inputs.photo.value = photo.id;
      this.node.dataset.photoId = String(photo.id);
      for (const name of PHOTO_FIELDS) {
        const input = this.inputs[name];
        if (input.type === "checkbox") input.checked = Boolean(photo[name]);
        else input.value = photo[name] === null || photo[name] === undefined ? "" : photo[name];
      }
      this.showDecorative();
      this.showFocal();
    }
  }

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

  /* ---- the gallery: the inline made into cards ---- */

  class Gallery {
    constructor(group, urls) {
      this.group = group;
      this.form = group.closest("form");
      this.table = group.querySelector("table");
      this.template = document.getElementById(`${PREFIX}-empty`);
      this.total = document.getElementById(`id_${PREFIX}-TOTAL_FORMS`);
      this.labels = Object.fromEntries([...this.table.querySelectorAll("thead th")]
        .map((th) => [(th.className.match(/column-(\w+)/) || [])[1], th.textContent.trim()])
        .filter(([name]) => name));
      this.uploads = new Uploads(this, urls.upload);
      this.library = urls.search ? new Library(this, urls.search) : null;
      this.build();
      for (const row of this.table.querySelectorAll(`tbody tr.form-row:not(.empty-form)`)) {
        const card = new Card(this, this.existingName(row));
        card.attachRow(row, this.existingPhoto(row));
        this.list.append(card.node);
        if (card.inputs.DELETE && card.inputs.DELETE.checked) this.showRemoved(card, true); // a refused save
      }
      this.renumber();
      this.table.hidden = true;
      const noScriptAdd = this.form.querySelector("fieldset.photo-add");
      if (noScriptAdd && !noScriptAdd.querySelector(".errorlist")) noScriptAdd.hidden = true;
      this.form.addEventListener("submit", (event) => this.beforeSubmit(event));
    }

    build() {
      const files = el("input", {type: "file", id: "gallery-files", multiple: true, accept: "image/*",
                                 class: "gallery-files"});
      files.addEventListener("change", () => { this.addFiles(files.files); files.value = ""; });
      this.zone = el("div", {class: "gallery-drop"},
        el("p", {class: "gallery-drop-text"}, "Déposez vos photos ici ou ", files,
           el("label", {for: files.id, class: "gallery-choose", text: "choisissez-les"})),
        el("p", {class: "gallery-drop-help", text: "JPEG, PNG, WebP, GIF ou HEIC (iPhone), 15 Mo au plus chacune ; "
                                                    + "plusieurs à la fois."}),
        this.library ? button("Choisir dans la photothèque", "gallery-open-library", () => this.library.open()) : null);
      for (const type of ["dragenter", "dragover"]) {
        this.zone.addEventListener(type, (event) => {
          if (!this.carriesFiles(event)) return;
          event.preventDefault();
          this.zone.classList.add("is-over");
        });
      }
      this.zone.addEventListener("dragleave", () => this.zone.classList.remove("is-over"));
      this.zone.addEventListener("drop", (event) => {
        if (!this.carriesFiles(event)) return;
        event.preventDefault();
        this.zone.classList.remove("is-over");
        this.addFiles(event.dataTransfer.files);
      });
      this.count = el("p", {class: "gallery-count", role: "status", "aria-live": "polite"});
      this.announcer = el("p", {class: "visually-hidden", "aria-live": "assertive"});
      this.list = el("ol", {class: "gallery-cards", "aria-label": "Photos de l'article, dans l'ordre de la page"});
      this.help = el("p", {class: "help gallery-help", text: "Glissez une photo par ⠿, ou montez-la / descendez-la "
        + "(↑ ↓, ou Alt+↑ / Alt+↓ sur la photo), pour changer l'ordre ; cliquez sur la photo pour choisir son point "
        + "d'intérêt (les recadrages le gardent). Sans couverture choisie, la première photo l'est."});
      this.list.addEventListener("keydown", (event) => {
        const card = event.target.closest && event.target.closest("[data-card]");
        if (!card || !event.altKey || !["ArrowUp", "ArrowDown"].includes(event.key)) return;
        event.preventDefault();
        this.move(card.card, event.key === "ArrowUp" ? -1 : 1);
      });
      this.dragging();
      this.table.before(el("div", {class: "gallery"}, this.zone, this.count, this.help, this.list, this.announcer));
    }

    carriesFiles(event) {
      return event.dataTransfer && [...event.dataTransfer.types].includes("Files");
    }

    /* HTML5 drag and drop of the cards by their handle; the order is kept at the drop. */
    dragging() {
      let dragged = null;
      this.list.addEventListener("dragstart", (event) => {
        const head = event.target.closest && event.target.closest(".gallery-card-head");
        const node = head && head.closest("[data-card]");
        if (!node || !node.card.inputs) return;
        dragged = node;
        node.classList.add("is-dragged");
        event.dataTransfer.effectAllowed = "move";
        event.dataTransfer.setData("text/plain", node.card.name);
        event.dataTransfer.setDragImage(node, 20, 20);
      });
      this.list.addEventListener("dragover", (event) => {
        if (!dragged) return;
        event.preventDefault();
        const over = event.target.closest && event.target.closest("[data-card]");
        if (!over || over === dragged) return;
        const box = over.getBoundingClientRect();
        const after = event.clientX > box.left + box.width / 2;
        over.parentNode.insertBefore(dragged, after ? over.nextSibling : over);
      });
      this.list.addEventListener("drop", (event) => {
        if (dragged) event.preventDefault();
      });
      this.list.addEventListener("dragend", () => {
        if (!dragged) return;
        dragged.classList.remove("is-dragged");
        const card = dragged.card;
        dragged = null;
        this.renumber();
        this.announcePlace(card);
      });
    }

    existingName(row) {
      const link = row.querySelector(".field-photo strong a");
      return link ? link.textContent.trim() : `Photo n° ${row.querySelector("[name$='-photo']").value}`;
    }

    existingPhoto(row) {
      const image = row.querySelector(".field-preview img");
      const waiting = row.querySelector(".field-preview .photo-waiting");
      return {thumbnail_url: image && !(waiting && waiting.textContent.trim()) ? image.src : "",
              state: waiting && waiting.textContent.trim() ? "pending" : "uploaded",
              message: waiting ? waiting.textContent.trim().replace(/^⏳\s*/, "") : ""};
    }

    field(name) {
      const input = this.form.querySelector(`[name="${name}"]`);
      return input ? input.value : "";
    }

    csrfToken() {
      const input = this.form.querySelector("[name=csrfmiddlewaretoken]");
      if (input) return input.value;
      const cookie = document.cookie.split("; ").find((part) => part.startsWith("csrftoken="));
      return cookie ? decodeURIComponent(cookie.slice("csrftoken=".length)) : "";
    }

    cards() {
      return [...this.list.children].map((node) => node.card).filter(Boolean);
    }

    cardFor(photoId) {
      return this.cards().find((card) => card.active && card.photoId === String(photoId));
    }

    addFiles(files) {
      for (const file of files) {
        const card = new Card(this, file.name);
        this.list.append(card.node);
        this.uploads.add(file, card);
      }
    }

    /* A new row from Django's empty form, its inputs in ``card``, filled from the photo's JSON. */
    newRow(card, photo) {
      const index = Number(this.total.value);
      const row = this.template.cloneNode(true);
      row.removeAttribute("id");
      row.classList.remove("empty-form");
      for (const node of row.querySelectorAll("[name], [id], [for]")) {
        for (const attribute of ["name", "id", "for"]) {
          if (node.hasAttribute(attribute)) {
            node.setAttribute(attribute, node.getAttribute(attribute).replace("__prefix__", String(index)));
          }
        }
      }
      this.total.value = String(index + 1);
      card.attachRow(row, photo);
      card.fill(photo);
      this.renumber();
    }

    uploaded(card, photo) {
      const already = this.cardFor(photo.id);
      if (already) {
        card.showStatus(el("p", {class: "gallery-note"}, `Cette photo est déjà dans la galerie (« ${already.name} »).`),
                        button("Fermer", "gallery-dismiss", () => card.node.remove()));
        return;
      }
      this.newRow(card, photo);
    }

    placed(photo) {
      if (this.cardFor(photo.id)) return;
      const card = new Card(this, photo.caption || photo.label);
      this.list.append(card.node);
      this.newRow(card, photo);
      this.announce(`« ${card.name} » ajoutée en position ${this.activeCards().indexOf(card) + 1}.`);
    }

    activeCards() {
      return this.cards().filter((card) => card.active);
    }

    /* Positions 0..n-1 in the order of the cards. */
    renumber() {
      this.activeCards().forEach((card, index) => { card.inputs.position.value = String(index); });
      for (const card of this.cards()) if (card.inputs) card.showCover();
    }

    move(card, step) {
      const nodes = [...this.list.children];
      const at = nodes.indexOf(card.node);
      const to = at + step;
      if (to < 0 || to >= nodes.length) {
        this.announce(step < 0 ? `« ${card.name} » est déjà la première.` : `« ${card.name} » est déjà la dernière.`);
        return;
      }
      const focused = document.activeElement;
      if (step < 0) this.list.insertBefore(card.node, nodes[to]);
      else this.list.insertBefore(card.node, nodes[to].nextSibling);
      if (focused && card.node.contains(focused)) focused.focus();
      this.renumber();
      this.announcePlace(card);
    }

    announcePlace(card) {
      const active = this.activeCards();
      const place = active.indexOf(card);
      if (place >= 0) this.announce(`« ${card.name} » : position ${place + 1} sur ${active.length}.`);
    }

    coverChanged(chosen) {
      if (chosen.inputs.is_cover.checked) {
        for (const card of this.cards()) if (card !== chosen && card.inputs) card.inputs.is_cover.checked = false;
        this.announce(`« ${chosen.name} » est la photo de couverture.`);
      }
      this.renumber();
    }

    /* A saved row is deleted at the save (its DELETE box); a new one is simply emptied. */
    remove(card) {
      const {inputs} = card;
      inputs.is_cover.checked = false;
      if (inputs.DELETE && inputs.id.value) {
        inputs.DELETE.checked = true;
        this.showRemoved(card, true);
        card.restore.focus();
        this.announce(`« ${card.name} » sera retirée de l'article à l'enregistrement.`);
      } else {
        for (const [name, input] of Object.entries(inputs)) {
          const model = input && this.template.querySelector(`[name$="-${name}"]`);
          if (!model || name === "article") continue;
          if (input.type === "checkbox") input.checked = model.defaultChecked;
          else input.value = model.defaultValue;
        }
        card.node.classList.add("is-cleared");
        card.node.hidden = true;
        this.announce(`« ${card.name} » retirée.`);
      }
      this.renumber();
    }

    showRemoved(card, removed) {
      card.node.classList.toggle("is-removed", removed);
      card.fields.inert = removed;
      card.restore.hidden = !removed;
    }

    restore(card) {
      card.inputs.DELETE.checked = false;
      this.showRemoved(card, false);
      card.node.focus();
      this.renumber();
      this.announce(`« ${card.name} » reste dans l'article.`);
    }

    showCount() {
      this.count.textContent = this.uploads.summary();
    }

    announce(text) {
      this.announcer.textContent = text;
    }

    beforeSubmit(event) {
      if (!this.uploads.busy) return;
      event.preventDefault();
      this.count.textContent = `${this.uploads.summary()} — attendez la fin des envois pour enregistrer.`;
      this.count.classList.add("is-warning");
    }
  }

  function start() {
    const group = document.getElementById(`${PREFIX}-group`);
    if (!group || !script || !group.querySelector("table") || !document.getElementById(`${PREFIX}-empty`)) return;
    document.documentElement.classList.add("has-gallery");
    new Gallery(group, {upload: script.dataset.uploadUrl, search: script.dataset.searchUrl});
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
