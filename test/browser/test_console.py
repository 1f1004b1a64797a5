"""The web console in a real browser: signing in, finding, showing, unbinding,
binding, exporting, and its HTTP answers. test_console_support.py has the
rest (console_browser.py what they share). Each test saves a screenshot
under build/screenshots/.
"""

import json
import time
import unittest

from console_browser import ConsoleTestCase, XSS_PROBES, EC, By, Keys
import pbtest  # noqa: E402  (console_browser puts test/blackbox on the path)

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

    def test_find_by_account_newest_first(self):
        for token in ('tok-1', 'tok-2', 'tok-3'):
            self.srv.bind(token, 'bob')
        self.srv.bind('tok-typed', ('bob', 1))
        self.sign_in()
        self.find('bob', account_type=0)
        # Bound within the same second: the later-bound first, then in binding order when unticked.
        self.assertEqual(self.cells(), ['tok-3', 'tok-2', 'tok-1'])
        self.assertIn('3 of 100 tokens', self.text('results'))
        self.assertIn('—', self.text('results'))  # no platform given: shown as a dash
        self.driver.find_element(By.ID, 'newest').click()
        self.assertEqual(self.cells(), ['tok-1', 'tok-2', 'tok-3'])
        self.find('bob', account_type=1)
        self.assertEqual(self.cells(), ['tok-typed'])
        self.shot('find_by_account')

    def test_bind_times_shown_when_the_server_sends_them(self):
        # Bindings made days ago and confirmed an hour ago: an import keeps the times it is given.
        now = int(time.time())
        self.import_bindings([{'token': token, 'account': 'ivy', 'platform': 'ios',
                               'bind_time': now - days * 86400, 'last_bind_time': now - 3600}
                              for token, days in (('tok-t1', 3), ('tok-t2', 2))])
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
        self.assertEqual(self.cells(), ['dave', 'carol'])  # bound together: the later first
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
        self.find('\n'.join(accounts), account_type=0)
        self.wait_text('status', '30 accounts looked up; 15 with bindings')
        self.assertEqual(len(self.driver.find_elements(By.CSS_SELECTOR, '#results article')), 30)
        self.assertEqual(self.cells(), ['tok-p%d' % i for i in range(0, 30, 2)])
        self.shot('paste_batch')

    def test_unbind_one_behind_a_confirmation(self):
        self.srv.bind('tok-x', 'erin')
        self.srv.bind('tok-y', 'erin')
        self.sign_in()
        self.find('erin', account_type=0)
        buttons = self.driver.find_elements(By.CSS_SELECTOR, '#results button[aria-label^="Unbind token tok-x "]')
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
        self.assertEqual(self.active_id(), 'undo')
        self.assert_no_alert()
        self.shot('unbind_one')

    def test_unbind_all_of_a_token_and_of_an_account(self):
        self.srv.bind('tok-all', 'f1', 'f2')
        self.srv.bind('tok-g1', 'gina')
        self.srv.bind('tok-g2', 'gina')
        self.sign_in()
        self.find('tok-all', by='token')
        self.driver.find_element(By.CSS_SELECTOR, '#results .entry-head button.danger').click()
        self.wait_for(EC.visibility_of_element_located((By.ID, 'confirm')))
        self.assertIn('f2', self.text('confirm-list'))
        self.driver.find_element(By.ID, 'confirm-ok').click()
        self.wait_text('status', 'Unbound the 2 bindings shown')
        self.assertEqual(self.srv.accounts_of('tok-all'), [])
        self.find('gina', account_type=0)
        self.driver.find_element(By.CSS_SELECTOR, '#results .entry-head button.danger').click()
        self.wait_for(EC.visibility_of_element_located((By.ID, 'confirm')))
        self.driver.find_element(By.ID, 'confirm-ok').click()
        self.wait_text('status', 'Unbound the 2 bindings shown')
        self.assertIn('No tokens are bound', self.text('results'))
        self.assertEqual(self.srv.tokens_of('gina'), [])

    def test_bind_a_pair(self):
        self.sign_in()
        self.driver.find_element(By.ID, 'bind-token').send_keys('tok-new')
        self.driver.find_element(By.ID, 'bind-account').send_keys('hana')
        self.driver.find_element(By.ID, 'bind-type').send_keys('0', Keys.ENTER)
        self.wait_text('status', 'Bound hana to tok-new')
        self.assertEqual(self.cells(), ['tok-new'])
        self.assertTrue(self.driver.current_url.endswith('#by=account&type=0&q=hana'), self.driver.current_url)
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
        self.assertEqual(self.cells(), XSS_PROBES[::-1])  # bound together: the later first
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
        self.driver.find_element(By.CSS_SELECTOR, '#results td button.danger').click()
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
        # no-store: no copy of the page on disk or in the back/forward cache
        self.assertEqual(headers['Cache-Control'], 'no-store')
        status, again, _ = srv.request('GET', '/console/', headers={'If-None-Match': headers['ETag']})
        self.assertEqual(status, 304)
        self.assertIn(b'tags.js', body)
        for script in ('/console/api.js', '/console/console.js', '/console/tags.js'):
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
        status, answer_headers, raw = srv.request('GET', '/pushbind/v1/app', headers=headers)
        answer = json.loads(raw)
        self.assertEqual(status, 200)
        self.assertEqual(answer['ret_code'], 0)
        self.assertEqual(answer_headers['Cache-Control'], 'no-store')  # an API answer names bindings: kept nowhere
        self.assertEqual(answer['access_id'], int(pbtest.APP[0]))
        self.assertEqual(answer['bindings'], 2)
        self.assertEqual(answer['limits'], {
            'max_accounts_per_token': 32, 'max_tokens_per_account': 7, 'max_query_items': 1000,
            'max_batch_items': 20, 'max_list_items': 100, 'max_account_bytes': 128, 'max_token_bytes': 256,
            'max_tag_items': 500, 'max_tags_per_token': 100, 'max_tags_per_app': 10000, 'max_tag_chars': 50})
        bad = pbtest.auth_headers('sign', (pbtest.APP[0], '0' * 32), b'')
        status, _, raw = srv.request('GET', '/pushbind/v1/app', headers=bad)
        self.assertEqual((status, json.loads(raw)), (200, {'ret_code': 1008003, 'err_msg': 'auth failure'}))
        self.assertEqual(srv.request('POST', '/pushbind/v1/app', body=b'', headers=headers)[0], 405)


if __name__ == '__main__':
    unittest.main()
