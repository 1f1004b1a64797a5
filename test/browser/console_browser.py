"""What the console's browser tests share: a headless Chromium (Debian's
chromium and chromium-driver through python3-selenium, run by
/usr/bin/python3), a server from the black-box harness, and helpers that
act as a person would. Screenshots go to build/screenshots/ (or
$PUSHBIND_SCREENSHOTS); axe-core (tools/axe, installed by scripts/deps.sh)
checks the page.
"""

import json
import os
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'blackbox'))
import pbtest  # noqa: E402

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.common.exceptions import (NoAlertPresentException, StaleElementReferenceException,  # noqa: E402
                                        TimeoutException)
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

SCREENSHOTS = os.environ.get('PUSHBIND_SCREENSHOTS') or os.path.join(HERE, '..', '..', 'build', 'screenshots')
WAIT = 10
AXE = os.path.join(HERE, '..', '..', 'tools', 'axe', 'node_modules', 'axe-core', 'axe.min.js')

XSS_PROBES = ['<img src=x onerror=alert(1)>',
              '"><script>alert(1)</script>',
              '<img src=x onerror=window.pbProbe=1>']


def new_browser(width=1200, height=900):
    """Headless Chromium as root: no sandbox, no network chatter, a fresh profile."""
    profile = tempfile.mkdtemp(prefix='pushbind-chromium-')
    options = webdriver.ChromeOptions()
    options.binary_location = '/usr/bin/chromium'
    for arg in ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
                '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage',
                '--user-data-dir=' + profile, '--window-size=%d,%d' % (width, height)):
        options.add_argument(arg)
    service = Service(executable_path='/usr/bin/chromedriver')
    driver = webdriver.Chrome(service=service, options=options)
    return driver, profile


class ConsoleTestCase(unittest.TestCase):
    width = 1200
    server_args = ()

    def setUp(self):
        self.srv = pbtest.Server.for_test(self, apps=[pbtest.APP, pbtest.APP2], args=self.server_args)
        self.base = 'http://127.0.0.1:%d' % (self.srv.admin_port or self.srv.port)
        self.driver, profile = new_browser(width=self.width)
        self.addCleanup(shutil.rmtree, profile, True)
        self.addCleanup(self.driver.quit)
        self.driver.set_window_size(self.width, 900)

    def shot(self, name):
        os.makedirs(SCREENSHOTS, exist_ok=True)
        self.driver.save_screenshot(os.path.join(SCREENSHOTS, name + '.png'))

    def wait_for(self, condition, timeout=WAIT):
        # A list re-rendered between finding its elements and reading them is read again, not an error.
        return WebDriverWait(self.driver, timeout, ignored_exceptions=(StaleElementReferenceException,)).until(condition)

    def wait_text(self, element_id, text):
        """Waits until #element_id's text contains `text`."""
        try:
            self.wait_for(EC.text_to_be_present_in_element((By.ID, element_id), text))
        except TimeoutException:
            self.fail('#%s never showed %r; it shows %r' % (element_id, text, self.text(element_id)))

    def text(self, element_id):
        return self.driver.find_element(By.ID, element_id).text

    def open_console(self):
        self.driver.get(self.base + '/console/')
        self.wait_for(EC.visibility_of_element_located((By.ID, 'access-id')))

    def sign_in(self, app=pbtest.APP):
        self.open_console()
        self.driver.find_element(By.ID, 'access-id').send_keys(app[0])
        self.driver.find_element(By.ID, 'secret-key').send_keys(app[1], Keys.ENTER)
        self.wait_for(EC.visibility_of_element_located((By.ID, 'work')))

    def find(self, value, by='account', account_type=None):
        """Looks up `value` (lines joined by newlines are pasted) as a person would, by the Find box."""
        self.driver.find_element(By.CSS_SELECTOR, 'input[name="find-by"][value="%s"]' % by).click()
        if by == 'account':
            box = self.driver.find_element(By.ID, 'find-type')
            box.clear()
            if account_type is not None:
                box.send_keys(str(account_type))
        box = self.driver.find_element(By.ID, 'find-value')
        box.clear()
        # Shift+Enter adds a line; Enter alone looks up.
        for i, line in enumerate(value.split('\n')):
            if i:
                box.send_keys(Keys.SHIFT, Keys.ENTER, Keys.SHIFT)
            box.send_keys(line)
        self.driver.execute_script('document.getElementById("status").textContent = ""')
        box.send_keys(Keys.ENTER)
        self.wait_text('status', 'looked up')

    def cells(self, selector='#results td.value button.link'):
        return [e.text for e in self.driver.find_elements(By.CSS_SELECTOR, selector)]

    def confirm_dialog(self):
        """Waits for the confirmation dialog; returns it."""
        dialog = self.driver.find_element(By.ID, 'confirm')
        self.wait_for(EC.visibility_of(dialog))
        return dialog

    def active_id(self):
        """The focused element's id, or its data-focus key, or its tag."""
        return self.driver.execute_script(
            'const a = document.activeElement; return a.id || (a.dataset && a.dataset.focus) || a.tagName')

    def import_bindings(self, rows):
        """Bindings with given times and platforms, by `pushbind import` into the running server's store."""
        path = os.path.join(self.srv.data_dir, 'rows.ndjson')
        with open(path, 'w') as f:
            f.write(''.join(json.dumps(r) + '\n' for r in rows))
        r = pbtest.run_cli('import', '--data', self.srv.data_dir, '--access-id', pbtest.APP[0], path)
        self.assertEqual(r.returncode, 0, r)

    def dark(self, on=True):
        self.driver.execute_cdp_cmd('Emulation.setEmulatedMedia', {
            'features': [{'name': 'prefers-color-scheme', 'value': 'dark' if on else 'light'}]})

    def assert_axe_clean(self, what):
        """Runs axe-core on the page as it is; fails naming each violation and its elements."""
        if not os.path.exists(AXE):
            self.fail('axe-core is not installed at %s: run scripts/deps.sh' % AXE)
        with open(AXE) as f:
            source = f.read()
        self.driver.execute_script(source)
        result = self.driver.execute_async_script(
            'const done = arguments[arguments.length - 1];'
            'axe.run(document, {resultTypes: ["violations"]}).then((r) => done(r.violations.map((v) =>'
            '  v.id + " (" + v.impact + "): " + v.help + " — " + v.nodes.map((n) => n.target.join(" ")).join(", "))),'
            '  (e) => done(["axe failed: " + e]));')
        self.assertEqual(result, [], 'axe found violations on %s' % what)

    def assert_no_alert(self):
        try:
            alert = self.driver.switch_to.alert
        except NoAlertPresentException:
            return
        self.fail('a JavaScript dialog opened: %r' % alert.text)


