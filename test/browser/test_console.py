"""The web console in a real browser: headless Chromium driven by Selenium,
against the real server (the black-box harness). Each test saves a
screenshot under build/screenshots/.

Needs Debian's chromium, chromium-driver and python3-selenium (scripts/deps.sh);
run with /usr/bin/python3.
"""

import json
import os
import shutil
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'blackbox'))
import pbtest  # noqa: E402

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.common.exceptions import NoAlertPresentException, TimeoutException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

SCREENSHOTS = os.environ.get('PUSHBIND_SCREENSHOTS') or os.path.join(HERE, '..', '..', 'build', 'screenshots')
WAIT = 10

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
        return WebDriverWait(self.driver, timeout).until(condition)

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
        self.driver.find_element(By.CSS_SELECTOR, 'input[name="find-by"][value="%s"]' % by).click()
        if account_type is not None:
            box = self.driver.find_element(By.ID, 'find-type')
            box.clear()
            box.send_keys(str(account_type))
        box = self.driver.find_element(By.ID, 'find-value')
        box.clear()
        box.send_keys(value, Keys.ENTER)
        self.wait_text('status', 'looked up')

    def cells(self, selector='#results td.value'):
        return [e.text for e in self.driver.find_elements(By.CSS_SELECTOR, selector)]

    def assert_no_alert(self):
        try:
            alert = self.driver.switch_to.alert
        except NoAlertPresentException:
            return
        self.fail('a JavaScript dialog opened: %r' % alert.text)


class TestConsole(ConsoleTestCase):

    def test_sign_in_shows_app_and_limits(self):
        self.srv.bind('tok-a', 'alice')
        self.sign_in()
        self.wait_text('who', '1 binding')
        self.assertIn('App 1500001048', self.text('who'))
        self.assertIn('100 tokens per account', self.text('limits'))
        self.assertEqual(self.driver.execute_script('return sessionStorage.length + localStorage.length'), 0)
        self.assertEqual(self.driver.execute_script('return document.cookie'), '')
        self.assertEqual(self.driver.find_element(By.ID, 'secret-key').get_attribute('value'), '')
        self.shot('sign_in')

    def test_wrong_key_names_what_to_check(self):
        self.open_console()
        self.driver.find_element(By.ID, 'access-id').send_keys(pbtest.APP[0])
        self.driver.find_element(By.ID, 'secret-key').send_keys('0' * 32, Keys.ENTER)
        self.wait_text('signin-message', 'check the AccessId and the SecretKey')
        self.assertFalse(self.driver.find_element(By.ID, 'work').is_displayed())
        self.shot('wrong_key')

    def test_clock_off_is_named(self):
        self.open_console()
        # The browser's clock an hour ahead: the signature's TimeStamp is out of the window.
        self.driver.execute_script('const now = Date.now; Date.now = () => now() + 3600 * 1000;')
        self.driver.find_element(By.ID, 'access-id').send_keys(pbtest.APP[0])
        self.driver.find_element(By.ID, 'secret-key').send_keys(pbtest.APP[1], Keys.ENTER)
        self.wait_text('signin-message', "clock is 60 minutes ahead of the server's")
        self.shot('clock_skew')

    def test_reload_and_sign_out_forget_the_key(self):
        self.sign_in()
        self.driver.find_element(By.ID, 'signout').click()
        self.wait_text('signin-message', 'Signed out')
        self.sign_in()
        self.driver.refresh()
        self.wait_for(EC.visibility_of_element_located((By.ID, 'access-id')))
        self.assertFalse(self.driver.find_element(By.ID, 'work').is_displayed())

    def test_find_by_account_in_binding_order(self):
        for token in ('tok-1', 'tok-2', 'tok-3'):
            self.srv.bind(token, 'bob')
        self.srv.bind('tok-typed', ('bob', 1))
        self.sign_in()
        self.find('bob')
        self.assertEqual(self.cells(), ['tok-1', 'tok-2', 'tok-3'])
        self.assertIn('3 of 100 tokens', self.text('results'))
        self.assertIn('—', self.text('results'))  # no bind times from this server: shown as a dash
        self.driver.find_element(By.ID, 'newest').click()
        self.assertEqual(self.cells(), ['tok-3', 'tok-2', 'tok-1'])
        self.find('bob', account_type=1)
        self.assertEqual(self.cells(), ['tok-typed'])
        self.shot('find_by_account')

    def test_bind_times_shown_when_the_server_sends_them(self):
        # Bindings made days ago and confirmed an hour ago: an import keeps the times it is given.
        now = int(time.time())
        lines = ''.join(json.dumps({'token': token, 'account': 'ivy', 'platform': 'ios',
                                    'bind_time': now - days * 86400, 'last_bind_time': now - 3600}) + '\n'
                        for token, days in (('tok-t1', 3), ('tok-t2', 2)))
        path = os.path.join(self.srv.data_dir, 'ivy.ndjson')
        with open(path, 'w') as f:
            f.write(lines)
        r = pbtest.run_cli('import', '--data', self.srv.data_dir, '--access-id', pbtest.APP[0], path)
        self.assertEqual(r.returncode, 0, r)
        self.sign_in()
        self.find('ivy')
        text = self.text('results')
        self.assertIn('3 days ago', text)
        self.assertIn('2 days ago', text)
        self.assertIn('1 hour ago', text)
        self.assertIn('ios', text)
        title = self.driver.find_element(By.CSS_SELECTOR, '#results time').get_attribute('title')
        self.assertRegex(title, r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$')
        self.shot('bind_times')

    def test_find_by_token_and_nothing_bound(self):
        self.srv.bind('tok-shared', 'carol', ('dave', 2))
        self.sign_in()
        self.find('tok-shared', by='token')
        self.assertEqual(self.cells(), ['carol', 'dave'])
        self.assertIn('2 of 32 accounts', self.text('results'))
        self.find('tok-none', by='token')
        self.assertIn('No accounts are bound to this token', self.text('results'))
        self.find('bad token', by='token')
        self.assertIn('Not a valid token', self.text('results'))
        self.shot('find_by_token')

    def test_paste_a_batch(self):
        accounts = ['paste-%d' % i for i in range(30)]
        for i in range(0, 30, 2):
            self.srv.bind('tok-p%d' % i, accounts[i])
        # A query limit of 7: the 30 lines go in five requests, answered in one view.
        self.srv.restart(['--max-query-items', '7'])
        self.base = 'http://127.0.0.1:%d' % self.srv.port
        self.sign_in()
        self.driver.find_element(By.CSS_SELECTOR, '#paste-details summary').click()
        self.driver.find_element(By.ID, 'paste').send_keys('\n'.join(accounts))
        self.driver.find_element(By.ID, 'find-button').click()
        self.wait_text('status', '30 accounts looked up; 15 with bindings')
        self.assertEqual(len(self.driver.find_elements(By.CSS_SELECTOR, '#results article')), 30)
        self.assertEqual(self.cells(), ['tok-p%d' % i for i in range(0, 30, 2)])
        self.shot('paste_batch')

    def test_unbind_one_behind_a_confirmation(self):
        self.srv.bind('tok-x', 'erin')
        self.srv.bind('tok-y', 'erin')
        self.sign_in()
        self.find('erin')
        buttons = self.driver.find_elements(By.CSS_SELECTOR, '#results td button')
        buttons[0].click()
        dialog = self.driver.find_element(By.ID, 'confirm')
        self.wait_for(EC.visibility_of(dialog))
        self.assertIn('tok-x', dialog.text)
        self.shot('unbind_confirm')
        # Escape closes it and nothing goes.
        self.driver.switch_to.active_element.send_keys(Keys.ESCAPE)
        self.wait_for(EC.invisibility_of_element(dialog))
        self.assertEqual(self.srv.tokens_of('erin'), ['tok-x', 'tok-y'])
        buttons[0].click()
        self.wait_for(EC.visibility_of(dialog))
        self.driver.find_element(By.ID, 'confirm-ok').click()
        self.wait_text('status', 'Unbound erin from tok-x')
        self.assertEqual(self.cells(), ['tok-y'])
        self.assertEqual(self.srv.tokens_of('erin'), ['tok-y'])
        self.assert_no_alert()
        self.shot('unbind_one')

    def test_unbind_all_of_a_token_and_of_an_account(self):
        self.srv.bind('tok-all', 'f1', 'f2')
        self.srv.bind('tok-g1', 'gina')
        self.srv.bind('tok-g2', 'gina')
        self.sign_in()
        self.find('tok-all', by='token')
        self.driver.find_element(By.CSS_SELECTOR, '#results .entry-head button').click()
        self.wait_for(EC.visibility_of_element_located((By.ID, 'confirm')))
        self.assertIn('f2', self.text('confirm-list'))
        self.driver.find_element(By.ID, 'confirm-ok').click()
        self.wait_text('status', 'has no accounts now')
        self.assertEqual(self.srv.accounts_of('tok-all'), [])
        self.find('gina')
        self.driver.find_element(By.CSS_SELECTOR, '#results .entry-head button').click()
        self.wait_for(EC.visibility_of_element_located((By.ID, 'confirm')))
        self.driver.find_element(By.ID, 'confirm-ok').click()
        self.wait_text('status', 'has no tokens now')
        self.assertIn('No tokens are bound', self.text('results'))
        self.assertEqual(self.srv.tokens_of('gina'), [])

    def test_bind_a_pair(self):
        self.sign_in()
        self.driver.find_element(By.ID, 'bind-token').send_keys('tok-new')
        self.driver.find_element(By.ID, 'bind-account').send_keys('hana', Keys.ENTER)
        self.wait_text('status', 'Bound hana to tok-new')
        self.assertEqual(self.cells(), ['tok-new'])
        self.assertEqual(self.srv.tokens_of('hana'), ['tok-new'])
        self.wait_text('who', '1 binding')
        self.shot('bind')

    def test_export_csv_quotes_and_defuses_formulas(self):
        self.srv.bind('tok-csv', '=HYPERLINK("x")', 'plain')
        self.sign_in()
        self.find('tok-csv', by='token')
        csv = self.driver.execute_script('return csv()')
        lines = csv.split('\r\n')
        self.assertEqual(lines[0], 'account,account_type,token,platform,bind_time,last_bind_time,status')
        # the server sends bind times (with_info): ISO timestamps, no platform given
        iso = r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z'
        self.assertRegex(lines[1], r'^"\'=HYPERLINK\(""x""\)",0,tok-csv,,%s,%s,0$' % (iso, iso))
        self.assertRegex(lines[2], r'^plain,0,tok-csv,,%s,%s,0$' % (iso, iso))

    def test_xss_probes_are_shown_as_text(self):
        self.srv.bind('tok-xss', *XSS_PROBES)
        self.sign_in()
        self.find('tok-xss', by='token')
        self.assertEqual(self.cells(), XSS_PROBES)
        for probe in XSS_PROBES:
            self.find(probe)
            self.assertEqual(self.cells(), ['tok-xss'])
            self.assertIn(probe, self.text('results'))
        self.find('tok-xss', by='token')
        time.sleep(0.3)
        self.assert_no_alert()
        self.assertIsNone(self.driver.execute_script('return window.pbProbe'))
        self.assertEqual(self.driver.execute_script(
            'return document.querySelectorAll("#results img, #results script").length'), 0)
        self.shot('xss_probes')

    def test_keyboard_alone(self):
        self.srv.bind('tok-k', 'kim')
        self.open_console()
        active = self.driver.switch_to.active_element
        self.assertEqual(active.get_attribute('id'), 'access-id')
        active.send_keys(pbtest.APP[0], Keys.TAB)
        self.driver.switch_to.active_element.send_keys(pbtest.APP[1], Keys.ENTER)
        self.wait_for(EC.visibility_of_element_located((By.ID, 'work')))
        self.assertEqual(self.driver.switch_to.active_element.get_attribute('id'), 'find-value')
        self.driver.switch_to.active_element.send_keys('kim', Keys.ENTER)
        self.wait_text('status', 'looked up')
        self.assertEqual(self.cells(), ['tok-k'])
        # Every input has a label.
        unlabelled = self.driver.execute_script(
            'return Array.from(document.querySelectorAll("input, textarea"))'
            '.filter(e => e.labels.length === 0).map(e => e.id || e.name)')
        self.assertEqual(unlabelled, [])


class TestConsoleNarrow(ConsoleTestCase):
    width = 360

    def test_readable_at_360_px(self):
        self.srv.bind('tok-narrow-0123456789abcdef0123456789abcdef', 'narrow@example.com', ('13800000000', 1))
        self.srv.bind('tok-narrow-2', 'narrow@example.com')
        self.sign_in()
        self.find('narrow@example.com')
        self.assertEqual(len(self.cells()), 2)
        self.driver.execute_script('document.getElementById("results-title").scrollIntoView()')
        overflow = self.driver.execute_script(
            'return document.documentElement.scrollWidth - document.documentElement.clientWidth')
        self.assertLessEqual(overflow, 0, 'the page scrolls sideways at 360 px')
        self.shot('narrow_360')
        self.driver.execute_cdp_cmd('Emulation.setEmulatedMedia',
                                    {'features': [{'name': 'prefers-color-scheme', 'value': 'dark'}]})
        self.assertEqual(self.driver.execute_script(
            'return matchMedia("(prefers-color-scheme: dark)").matches'), True)
        self.shot('narrow_360_dark')


class TestConsoleOnAdminListener(ConsoleTestCase):
    """Served on --admin-listen, the page calls the API on its own origin."""
    server_args = ('--admin-listen', '127.0.0.1:0')

    def test_sign_in_find_and_unbind_through_the_admin_listener(self):
        self.srv.bind('tok-adm', 'adm-user')
        self.sign_in()
        self.wait_text('who', '1 binding')
        self.find('adm-user')
        self.assertEqual(self.cells(), ['tok-adm'])
        self.driver.find_element(By.CSS_SELECTOR, '#results td button').click()
        self.wait_for(EC.element_to_be_clickable((By.ID, 'confirm-ok'))).click()
        self.wait_text('status', 'Unbound')
        self.assertEqual(self.srv.tokens_of('adm-user'), [])
        self.assert_no_alert()
        self.shot('admin_listener')


class TestConsoleHttp(unittest.TestCase):
    """The console's HTTP answers, without a browser."""

    def test_headers_and_caching(self):
        srv = pbtest.Server.for_test(self)
        status, headers, body = srv.request('GET', '/console/')
        self.assertEqual(status, 200)
        self.assertIn(b'console.js', body)
        self.assertIn(b'api.js', body)
        self.assertEqual(headers['Content-Type'], 'text/html; charset=utf-8')
        self.assertIn("default-src 'none'", headers['Content-Security-Policy'])
        self.assertIn("frame-ancestors 'none'", headers['Content-Security-Policy'])
        self.assertEqual(headers['X-Content-Type-Options'], 'nosniff')
        self.assertEqual(headers['Referrer-Policy'], 'no-referrer')
        self.assertEqual(headers['Cache-Control'], 'no-cache')
        status, again, _ = srv.request('GET', '/console/', headers={'If-None-Match': headers['ETag']})
        self.assertEqual(status, 304)
        for script in ('/console/api.js', '/console/console.js'):
            status, headers, _ = srv.request('GET', script)
            self.assertEqual((status, headers['Content-Type']), (200, 'text/javascript; charset=utf-8'), script)
        status, headers, _ = srv.request('GET', '/console')
        self.assertEqual((status, headers['Location']), (301, '/console/'))
        self.assertEqual(srv.request('GET', '/console/missing.js')[0], 404)
        self.assertEqual(srv.request('POST', '/console/', body=b'x')[0], 405)
        self.assertEqual(srv.request('GET', '/consolex')[0], 404)

    def test_console_off_answers_404(self):
        srv = pbtest.Server.for_test(self, args=['--console', 'off'])
        self.assertEqual(srv.request('GET', '/console/')[0], 404)
        self.assertEqual(srv.request('GET', '/console/console.js')[0], 404)
        self.assertEqual(srv.query({'operator_type': 1, 'account_list': [{'account': 'a'}]})[0], 200)

    def test_app_endpoint(self):
        srv = pbtest.Server.for_test(self, args=['--max-tokens-per-account', '7'])
        srv.bind('t1', 'a', 'b')
        headers = pbtest.auth_headers('sign', pbtest.APP, b'')
        status, _, raw = srv.request('GET', '/pushbind/v1/app', headers=headers)
        answer = json.loads(raw)
        self.assertEqual(status, 200)
        self.assertEqual(answer['ret_code'], 0)
        self.assertEqual(answer['access_id'], int(pbtest.APP[0]))
        self.assertEqual(answer['bindings'], 2)
        self.assertEqual(answer['limits'], {
            'max_accounts_per_token': 32, 'max_tokens_per_account': 7, 'max_query_items': 1000,
            'max_batch_items': 20, 'max_list_items': 100, 'max_account_bytes': 128, 'max_token_bytes': 256})
        bad = pbtest.auth_headers('sign', (pbtest.APP[0], '0' * 32), b'')
        status, _, raw = srv.request('GET', '/pushbind/v1/app', headers=bad)
        self.assertEqual((status, json.loads(raw)), (200, {'ret_code': 1008003, 'err_msg': 'auth failure'}))
        self.assertEqual(srv.request('POST', '/pushbind/v1/app', body=b'', headers=headers)[0], 405)


if __name__ == '__main__':
    unittest.main()
