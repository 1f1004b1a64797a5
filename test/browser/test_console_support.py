"""The console as support uses it at night: it does exactly what it showed,
names account types, says when, and answers without noise. Each test saves
a screenshot under build/screenshots/.
"""

import time
import unittest

from console_browser import ConsoleTestCase, EC, By, Keys
import pbtest  # noqa: E402  (console_browser puts test/blackbox on the path)

from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.actions.wheel_input import ScrollOrigin  # noqa: E402


class TestDoesWhatItShowed(ConsoleTestCase):

    def test_unbind_all_of_an_account_leaves_a_token_bound_meanwhile(self):
        for token in ('tok-r1', 'tok-r2', 'tok-r3'):
            self.srv.bind(token, 'rita')
        self.sign_in()
        self.find('rita', account_type=0)
        self.driver.find_element(By.CSS_SELECTOR, '#results .entry-head button.danger').click()
        dialog = self.confirm_dialog()
        self.assertIn('exactly these', dialog.text)
        # The app binds a 4th token while the dialog is open.
        self.srv.bind('tok-r4', 'rita')
        self.driver.find_element(By.ID, 'confirm-ok').click()
        self.wait_text('status', 'Unbound the 3 bindings shown')
        self.assertEqual(self.srv.tokens_of('rita'), ['tok-r4'])

    def test_unbind_all_of_a_token_leaves_an_account_bound_meanwhile(self):
        self.srv.bind('tok-race', 'r1', ('r2', 1005))
        self.sign_in()
        self.find('tok-race', by='token')
        self.driver.find_element(By.CSS_SELECTOR, '#results .entry-head button.danger').click()
        self.confirm_dialog()
        self.srv.bind('tok-race', 'r3')
        self.driver.find_element(By.ID, 'confirm-ok').click()
        self.wait_text('status', 'Unbound the 2 bindings shown')
        self.assertEqual(self.srv.accounts_of('tok-race'), [{'account': 'r3'}])

    def test_one_box_decides_what_is_looked_up(self):
        self.srv.bind('tok-one', 'one')
        self.sign_in()
        inputs = self.driver.execute_script(
            'return Array.from(document.querySelectorAll("#find-form textarea, #find-form input:not([type=radio])"))'
            '.map(e => e.id)')
        self.assertEqual(inputs, ['find-value', 'find-type'])
        box = self.driver.find_element(By.ID, 'find-value')
        box.send_keys('one', Keys.SHIFT, Keys.ENTER, Keys.SHIFT, 'two')
        self.assertIn('Looks up 2 accounts under every type this app uses', self.text('find-count'))
        box.send_keys(Keys.ENTER)
        self.wait_text('status', '2 accounts looked up; 1 with bindings')

    def test_the_wheel_changes_no_number(self):
        self.sign_in()
        self.assertEqual(self.driver.find_elements(By.CSS_SELECTOR, 'input[type=number]'), [])
        for field in ('find-type', 'bind-type'):
            box = self.driver.find_element(By.ID, field)
            box.send_keys('1005')
            ActionChains(self.driver).move_to_element(box).click(box).perform()
            ActionChains(self.driver).scroll_from_origin(ScrollOrigin.from_element(box), 0, 120).perform()
            self.assertEqual(box.get_attribute('value'), '1005', field)

    def test_leaving_the_page_signs_out(self):
        self.srv.bind('tok-bf', 'bf')
        self.sign_in()
        self.find('bf', account_type=0)
        self.driver.get(self.base + '/console/missing')
        self.driver.back()
        self.wait_for(EC.visibility_of_element_located((By.ID, 'access-id')))
        self.assertFalse(self.driver.find_element(By.ID, 'work').is_displayed())
        self.assertEqual(self.driver.execute_script('return session'), None)
        # Whether or not the browser kept the page in its back/forward cache: its events sign out.
        for event, why in (("new PageTransitionEvent('pagehide', {persisted: true})", 'when the page was left'),
                           ("new PageTransitionEvent('pageshow', {persisted: true})", 'when the page was restored')):
            self.sign_in()
            self.driver.execute_script('window.dispatchEvent(%s)' % event)
            self.wait_text('signin-message', 'Signed out ' + why)
            self.assertEqual(self.driver.execute_script('return session'), None)

    def test_idle_signs_out_and_the_key_is_kept_nowhere(self):
        self.open_console()
        self.driver.execute_script('localStorage.setItem("pushbind.idle-seconds", "2")')
        self.sign_in()
        self.assertEqual(self.driver.find_element(By.ID, 'idle').get_attribute('value'), '2')
        storage = self.driver.execute_script('return JSON.stringify(localStorage) + JSON.stringify(sessionStorage)')
        self.assertNotIn(pbtest.APP[1], storage)
        self.assertNotIn(pbtest.APP[1], self.driver.current_url)
        self.wait_text('signin-message', 'Signed out after 2 seconds without activity')
        self.assertFalse(self.driver.find_element(By.ID, 'work').is_displayed())

    def test_a_bind_refused_at_a_limit_names_it(self):
        self.srv.restart(['--max-tokens-per-account', '2', '--max-accounts-per-token', '2'])
        self.base = 'http://127.0.0.1:%d' % self.srv.port
        self.srv.bind('tok-l1', 'lim')
        self.srv.bind('tok-l2', 'lim')
        self.srv.bind('tok-full', 'x1', 'x2')
        self.sign_in()
        for token, account, want in (('tok-l3', 'lim', 'account lim already has 2 of 2 tokens'),
                                     ('tok-full', 'x3', 'token tok-full already has 2 of 2 accounts')):
            for field, value in (('bind-token', token), ('bind-account', account), ('bind-type', '0')):
                box = self.driver.find_element(By.ID, field)
                box.clear()
                box.send_keys(value)
            self.driver.find_element(By.ID, 'bind-button').click()
            self.wait_text('status', want)
        self.assertEqual(self.srv.tokens_of('lim'), ['tok-l1', 'tok-l2'])
        self.shot('bind_at_limit')

    def test_undo_binds_again_with_the_platform(self):
        now = int(time.time())
        self.import_bindings([{'token': 'tok-u1', 'account': 'uma', 'platform': 'ios', 'bind_time': now - 86400,
                               'last_bind_time': now - 86400},
                              {'token': 'tok-u2', 'account': 'uma', 'platform': 'android', 'bind_time': now - 3600,
                               'last_bind_time': now - 3600}])
        self.sign_in()
        self.find('uma', account_type=0)
        self.driver.find_element(By.CSS_SELECTOR, '#results .entry-head button.danger').click()
        self.confirm_dialog()
        self.driver.find_element(By.ID, 'confirm-ok').click()
        self.wait_text('status', 'Unbound the 2 bindings shown')
        self.assertEqual(self.srv.tokens_of('uma'), [])
        self.assertEqual(self.active_id(), 'undo')
        self.driver.switch_to.active_element.send_keys(Keys.ENTER)
        self.wait_text('status', 'Bound 2 pairs again')
        self.assertIn('bind times start now', self.text('status'))
        self.assertEqual(sorted(self.srv.tokens_of('uma')), ['tok-u1', 'tok-u2'])
        _, answer = self.srv.query({'operator_type': 1, 'account_list': [{'account': 'uma'}], 'with_info': True})
        platforms = {i['token']: i['platform'] for i in answer['account_tokens'][0]['token_info']}
        self.assertEqual(platforms, {'tok-u1': 'ios', 'tok-u2': 'android'})
        self.assertTrue(self.active_id().startswith('entry|'), self.active_id())
        self.assertFalse(self.driver.find_element(By.ID, 'undo').is_displayed())

    def test_focus_is_kept_after_every_action(self):
        self.srv.bind('tok-f1', 'fay')
        self.srv.bind('tok-f2', 'fay')
        self.sign_in()
        self.assertEqual(self.active_id(), 'find-value')
        self.find('fay', account_type=0)
        self.assertEqual(self.active_id(), 'find-value')
        self.driver.find_element(By.ID, 'refresh').click()
        self.wait_text('status', 'Refreshed')
        self.assertEqual(self.active_id(), 'refresh')
        self.driver.find_element(By.CSS_SELECTOR, '#results button.copy').click()
        self.assertTrue(self.active_id().startswith('copy|'), self.active_id())
        self.driver.find_element(By.CSS_SELECTOR, '#results td.value button.link').click()
        self.wait_text('status', '1 token looked up')
        self.assertEqual(self.active_id(), 'entry|t|tok-f2')
        self.driver.find_element(By.CSS_SELECTOR, '#results td button.danger').click()
        self.confirm_dialog()
        self.assertEqual(self.active_id(), 'confirm-cancel')
        self.driver.switch_to.active_element.send_keys(Keys.ESCAPE)
        self.wait_for(EC.invisibility_of_element((By.ID, 'confirm')))
        self.assertTrue(self.active_id().startswith('one|'), self.active_id())
        for field, value in (('bind-token', 'tok-f3'), ('bind-account', 'fay'), ('bind-type', '0')):
            self.driver.find_element(By.ID, field).send_keys(value)
        self.driver.find_element(By.ID, 'bind-type').send_keys(Keys.ENTER)
        self.wait_text('status', 'Bound fay')
        self.assertEqual(self.active_id(), 'bind-token')

    def test_axe_finds_nothing(self):
        self.srv.bind('tok-ax', 'ax@example.com', ('13800000000', 1002))
        self.open_console()
        self.assert_axe_clean('the sign-in page')
        self.sign_in()
        self.find('ax@example.com\nnobody\n13800000000', account_type=None)
        self.assert_axe_clean('the results of a paste')
        self.dark()
        self.assert_axe_clean('the results in dark mode')
        self.driver.find_element(By.CSS_SELECTOR, '#results td button.danger').click()
        self.confirm_dialog()
        self.assert_axe_clean('the confirmation dialog')


class TestTypesWithNames(ConsoleTestCase):

    def test_a_name_is_found_under_any_type_the_app_uses_and_types_are_named(self):
        self.srv.bind('tok-mail', ('bob@example.com', 1005))
        self.srv.bind('tok-custom', ('carol', 4242))  # a type of no table: found all the same
        self.sign_in()
        self.find('bob@example.com')
        self.assertEqual(self.cells(), ['tok-mail'])
        self.assertIn('1005 e-mail', self.text('results'))
        self.find('tok-mail', by='token')
        self.assertIn('1005 e-mail', self.text('results'))
        self.find('carol')
        self.assertEqual(self.cells(), ['tok-custom'])
        self.assertIn('type 4242', self.text('results'))
        self.find('nobody@example.com')
        self.assertIn('under any of the 2 types this app uses (1005 e-mail, type 4242)', self.text('results'))

    def test_a_paste_with_mixed_types_a_summary_and_a_filter(self):
        self.srv.bind('tok-m1', ('bob@example.com', 1005))
        self.srv.bind('tok-m2', ('13800000000', 1002))
        self.srv.restart(['--max-tokens-per-account', '1'])
        self.base = 'http://127.0.0.1:%d' % self.srv.port
        self.sign_in()
        box = self.driver.find_element(By.ID, 'find-value')
        # A paste, as from a spreadsheet: CSV-like "TYPE,NAME", "NAME<TAB>TYPE", and a bare name.
        self.driver.execute_script('arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event("input"))',
                                   box, '1005,bob@example.com\n13800000000\t1002\nnobody\n0,12,34')
        self.assertIn('Looks up 4 accounts', self.text('find-count'))
        self.driver.find_element(By.ID, 'find-button').click()
        self.wait_text('status', '4 accounts looked up; 2 with bindings')
        summary = self.text('summary')
        for part in ('All (4)', 'Found (2)', 'Missing (2)', 'At a limit (2)'):
            self.assertIn(part, summary)
        self.assertIn('12,34', self.text('results'))  # "0,12,34" is the name "12,34" under type 0
        self.driver.find_element(By.CSS_SELECTOR, '#summary input[value="missing"]').click()
        self.assertEqual(len(self.driver.find_elements(By.CSS_SELECTOR, '#results article')), 2)
        self.assertNotIn('tok-m1', self.text('results'))
        self.driver.find_element(By.CSS_SELECTOR, '#summary input[value="limit"]').click()
        self.assertEqual(self.cells(), ['tok-m1', 'tok-m2'])
        self.shot('paste_summary')

    def test_bind_asks_for_the_type_and_warns_of_the_name_under_another(self):
        self.srv.bind('tok-w1', ('wes@example.com', 1005))
        self.sign_in()
        self.driver.find_element(By.ID, 'bind-token').send_keys('tok-w2')
        self.driver.find_element(By.ID, 'bind-account').send_keys('wes@example.com', Keys.ENTER)
        self.wait_text('status', "Choose the account's type")
        self.assertEqual(self.active_id(), 'bind-type')
        self.driver.find_element(By.ID, 'bind-type').send_keys('0', Keys.ENTER)
        dialog = self.confirm_dialog()
        self.assertIn('1005 e-mail — 1 token', dialog.text)
        self.shot('bind_other_type')
        self.driver.find_element(By.ID, 'confirm-cancel').click()
        self.assertEqual(self.srv.tokens_of('wes@example.com'), [])
        self.assertEqual(self.srv.tokens_of('wes@example.com', 1005), ['tok-w1'])
        self.driver.find_element(By.ID, 'bind-type').clear()
        self.driver.find_element(By.ID, 'bind-type').send_keys('1005 e-mail', Keys.ENTER)
        self.wait_text('status', 'Bound wes@example.com (1005 e-mail) to tok-w2')
        self.assertEqual(self.srv.tokens_of('wes@example.com', 1005), ['tok-w1', 'tok-w2'])


class TestWhenAtAGlance(ConsoleTestCase):

    def test_newest_registration_first_with_local_times(self):
        now = int(time.time())
        # Bound long ago but registered a minute ago: it comes first.
        self.import_bindings([{'token': 'tok-old', 'account': 'tim', 'bind_time': now - 3 * 86400, 'last_bind_time': now - 60},
                              {'token': 'tok-new', 'account': 'tim', 'bind_time': now - 86400, 'last_bind_time': now - 7200}])
        self.sign_in()
        self.find('tim', account_type=0)
        self.assertEqual(self.cells(), ['tok-old', 'tok-new'])
        local = self.driver.execute_script(
            'const d = new Date(arguments[0] * 1000), p = (n) => String(n).padStart(2, "0");'
            'return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + " " + p(d.getHours()) + ":" + p(d.getMinutes())',
            now - 60)
        self.assertIn(local, self.text('results'))
        self.assertIn('1 minute ago', self.text('results'))
        self.assertIn('3 days ago', self.text('results'))

    def test_as_of_refresh_and_stale(self):
        self.srv.bind('tok-s1', 'sam')
        self.sign_in()
        self.find('sam', account_type=0)
        self.assertRegex(self.text('asof'), r'^as of \d\d:\d\d:\d\d$')
        self.srv.bind('tok-s2', 'sam')
        self.driver.find_element(By.ID, 'refresh').click()
        self.wait_text('status', 'Refreshed')
        self.assertEqual(sorted(self.cells()), ['tok-s1', 'tok-s2'])
        self.srv.stop()
        self.driver.find_element(By.ID, 'refresh').click()
        self.wait_text('asof', 'stale: the server stopped answering at')
        self.assertIn('did not answer', self.text('status'))
        self.assertEqual(sorted(self.cells()), ['tok-s1', 'tok-s2'])  # still shown, marked
        self.assertIn('stale', self.driver.find_element(By.ID, 'results-panel').get_attribute('class'))
        self.shot('stale')


class TestAnswersNotNoise(ConsoleTestCase):

    def test_copy_buttons(self):
        self.srv.bind('tok-copy', 'cora')
        self.sign_in()
        self.driver.execute_script('window.copied = []; navigator.clipboard.writeText = (t) => '
                                   '{ window.copied.push(t); return Promise.resolve(); }')
        self.find('cora', account_type=0)
        self.driver.find_element(By.CSS_SELECTOR, '#results td.value button.copy').click()
        self.wait_text('status', 'Copied token')
        self.driver.find_element(By.CSS_SELECTOR, '#results h3 button.copy').click()
        self.wait_text('status', 'Copied account')
        self.assertEqual(self.driver.execute_script('return window.copied'), ['tok-copy', 'cora'])

    def test_click_a_token_then_an_account_with_deep_links(self):
        self.srv.bind('tok-pv', 'pia', ('pia@example.com', 1005))
        self.sign_in()
        self.find('pia', account_type=0)
        self.assertTrue(self.driver.current_url.endswith('#by=account&type=0&q=pia'), self.driver.current_url)
        self.driver.find_element(By.CSS_SELECTOR, '#results td.value button.link').click()
        self.wait_text('status', '1 token looked up')
        self.assertEqual(sorted(self.cells()), ['pia', 'pia@example.com'])
        self.assertTrue(self.driver.current_url.endswith('#by=token&q=tok-pv'), self.driver.current_url)
        link = [e for e in self.driver.find_elements(By.CSS_SELECTOR, '#results td.value button.link')
                if e.text == 'pia@example.com'][0]
        link.click()
        self.wait_text('status', '1 account looked up')
        self.assertIn('1005 e-mail', self.text('results'))
        self.assertNotIn(pbtest.APP[1], self.driver.current_url)
        # Back goes to the previous lookup.
        self.driver.back()
        self.wait_for(lambda d: d.current_url.endswith('#by=token&q=tok-pv'))
        self.wait_text('status', '1 token looked up')
        self.assertEqual(self.driver.find_element(By.ID, 'find-value').get_attribute('value'), 'tok-pv')

    def test_a_deep_link_looks_up_after_sign_in(self):
        self.srv.bind('tok-dl', ('dl@example.com', 1005))
        self.driver.get(self.base + '/console/#by=account&q=dl%40example.com')
        self.wait_text('signin-message', 'After you sign in, this page looks up account dl@example.com')
        self.driver.find_element(By.ID, 'access-id').send_keys(pbtest.APP[0])
        self.driver.find_element(By.ID, 'secret-key').send_keys(pbtest.APP[1], Keys.ENTER)
        self.wait_text('status', '1 account looked up; 1 with bindings')
        self.assertEqual(self.cells(), ['tok-dl'])

    def test_the_title_and_banner_name_the_app_and_environment(self):
        self.open_console()
        self.driver.find_element(By.ID, 'environment').send_keys('staging')
        self.driver.find_element(By.ID, 'access-id').send_keys(pbtest.APP[0])
        self.driver.find_element(By.ID, 'secret-key').send_keys(pbtest.APP[1], Keys.ENTER)
        self.wait_for(EC.visibility_of_element_located((By.ID, 'work')))
        self.assertEqual(self.driver.title, 'staging · App 1500001048 — pushbind console')
        self.assertEqual(self.text('env'), 'staging')
        self.driver.find_element(By.ID, 'signout').click()
        self.assertEqual(self.driver.title, 'pushbind console')
        # The name is remembered (it is no secret); the key is not.
        self.driver.refresh()
        self.wait_for(EC.visibility_of_element_located((By.ID, 'access-id')))
        self.assertEqual(self.driver.find_element(By.ID, 'environment').get_attribute('value'), 'staging')


class ScreenshotCase(ConsoleTestCase):
    """A realistic screen: shared family devices, phone and e-mail accounts, FCM and APNs tokens."""

    def realistic(self):
        self.driver.set_window_size(self.width, 1100)
        now = int(time.time())
        fcm = 'fcm:APA91bH-' + 'x7Qe2' * 8
        apns = 'apns:' + '9f3c4a1e' * 8
        rows = [
            {'token': fcm, 'account': 'li.wei@example.com', 'account_type': 1005, 'platform': 'android',
             'bind_time': now - 40 * 86400, 'last_bind_time': now - 180},
            {'token': apns, 'account': 'li.wei@example.com', 'account_type': 1005, 'platform': 'ios',
             'bind_time': now - 9 * 86400, 'last_bind_time': now - 5 * 3600},
            {'token': apns, 'account': '+8613800000000', 'account_type': 1002, 'platform': 'ios',
             'bind_time': now - 9 * 86400, 'last_bind_time': now - 5 * 3600},
            {'token': 'fcm:dK3v-family-tablet', 'account': 'li.wei@example.com', 'account_type': 1005,
             'platform': 'android', 'bind_time': now - 120 * 86400, 'last_bind_time': now - 30 * 86400},
            {'token': fcm, 'tag': 'vip'}, {'token': fcm, 'tag': 'city:shenzhen'}, {'token': apns, 'tag': 'vip'},
        ]
        self.import_bindings(rows)
        self.open_console()
        self.driver.execute_script('localStorage.setItem("pushbind.environment", "production")')
        self.sign_in()
        self.find('li.wei@example.com\n+8613800000000\nwang.fang@example.com')

    def assert_no_sideways_scroll(self):
        overflow = self.driver.execute_script(
            'return document.documentElement.scrollWidth - document.documentElement.clientWidth')
        self.assertLessEqual(overflow, 0, 'the page scrolls sideways at %d px' % self.width)

    def shoot(self, name):
        self.shot(name + '_light')
        self.dark()
        self.shot(name + '_dark')
        self.dark(False)


class TestScreenshotsWide(ScreenshotCase):
    width = 1280

    def test_screenshots_at_1280(self):
        self.realistic()
        self.assert_no_sideways_scroll()
        self.shoot('console_1280')


class TestScreenshotsNarrow(ScreenshotCase):
    width = 360

    def test_screenshots_at_360(self):
        self.realistic()
        self.assert_no_sideways_scroll()
        self.shoot('console_360_top')
        self.driver.execute_script('document.getElementById("results-title").scrollIntoView()')
        self.shoot('console_360')


if __name__ == '__main__':
    unittest.main()
