"""A person in a real browser (Debian's chromium driven by Playwright): log into the admin, add an
article with a photo, open the public page and see the photo really load from the store's public URL
(FTP-served, or a bucket's)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.test_photos import jpeg_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, live_server, username="editeur", password="mot-de-passe-de-test-42"):
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")


def publish_now(page):
    page.check("#id_published")
    when = timezone.localtime() - timedelta(minutes=5)
    page.fill("#id_published_at_0", when.strftime("%d/%m/%Y"))
    page.fill("#id_published_at_1", when.strftime("%H:%M:%S"))


def test_editor_adds_a_photo_and_readers_see_it(no_script_page, live_server, photo_store, django_user_model, tmp_path):
    """Without JavaScript: the "Ajouter une photo" fieldset, one file per save; the reader's browser
    loads the photo from the store's public URL, which the page's policy allows (HostGator or bucket)."""
    from articles.models import Article

    django_user_model.objects.create_superuser("editeur", "e@example.org", "mot-de-passe-de-test-42")
    photo = tmp_path / "finale.jpg"
    photo.write_bytes(jpeg_bytes(size=(1400, 900)))
    page = no_script_page
    page.add_init_script(CSP_LISTENER)

    log_in(page, live_server)
    page.goto(f"{live_server.url}/admin/articles/article/add/")
    assert page.locator(".gallery-drop").count() == 0 and page.locator("#placements-group table").is_visible()
    page.fill("#id_title", "Finale de la coupe")
    page.set_input_files("#id_photo", str(photo))
    page.fill("#id_photo_alt_text", "Les joueuses soulèvent la coupe")
    publish_now(page)
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")
    assert [photo.alt_text for photo in Article.objects.get().gallery] == ["Les joueuses soulèvent la coupe"]

    page.goto(f"{live_server.url}/articles/finale-de-la-coupe/")
    image = page.locator("img.photo")
    image.wait_for()
    page.wait_for_function("() => document.querySelector('img.photo').complete")
    assert image.evaluate("img => img.naturalWidth") > 0
    assert image.evaluate("img => img.currentSrc").startswith(photo_store.public_url)
    assert csp_violations(page) == []
    page.screenshot(path=str(tmp_path / "article.png"))



# Every violation of the page's policy, kept in sessionStorage so that it survives the navigations
# between the pages of the site (one origin); registered before any page script runs.
CSP_LISTENER = """document.addEventListener('securitypolicyviolation', event => {
    const seen = JSON.parse(sessionStorage.getItem('csp-violations') || '[]');
    seen.push(`${event.violatedDirective} blocked ${event.blockedURI || 'inline'} on ${location.pathname}`);
    sessionStorage.setItem('csp-violations', JSON.stringify(seen));
});"""


def csp_violations(page):
    return page.evaluate("() => JSON.parse(sessionStorage.getItem('csp-violations') || '[]')")


def test_admin_and_pages_pass_the_content_security_policy(browser_page, live_server, hostgator, django_user_model):
    """The editor's and the reader's pages under the real policy: Chromium reports no violation."""
    from articles.models import Article

    django_user_model.objects.create_superuser("editeur", "e@example.org", "mot-de-passe-de-test-42")
    article = Article.objects.create(title="Tournoi des jeunes", published=True,
                                     published_at=timezone.now() - timedelta(hours=1))
    page = browser_page
    console = []
    page.on("console", lambda message: "Content Security Policy" in message.text and console.append(message.text))
    page.add_init_script(CSP_LISTENER)

    log_in(page, live_server)
    for path in ("/admin/articles/article/add/", "/admin/articles/article/", article.get_absolute_url()):
        response = page.goto(f"{live_server.url}{path}", wait_until="load")
        assert response.status == 200 and "frame-ancestors 'none'" in response.headers["content-security-policy"]
        if path == "/admin/articles/article/":
            # The list's thumbnails keep their size from admin.css, no longer from an inline style.
            assert page.locator("img.photo-preview").evaluate("img => getComputedStyle(img).height") == "48px"
    # The photo (here the default image) comes from the photo host's origin, which img-src allows.
    assert page.locator("img.photo").evaluate("img => img.complete && img.naturalWidth") > 0
    assert csp_violations(page) == [] and console == []

    # The listener does hear violations: a script from another origin is refused and recorded.
    page.evaluate("""() => new Promise(resolve => {
        document.addEventListener('securitypolicyviolation', resolve, {once: true});
        const script = document.createElement('script');
        script.src = 'https://ailleurs.example/x.js';
        document.body.append(script);
    })""")
    expected = f"script-src-elem blocked https://ailleurs.example/x.js on {article.get_absolute_url()}"
    assert csp_violations(page) == [expected]
