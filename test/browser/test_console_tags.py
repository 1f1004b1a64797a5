"""The console's tags: a token's tags where its details are shown, and the
tokens of a tag, counted and read page by page, each a click away from its
accounts; deep-linked, keyboard-kept, and open to a read key. Each test saves
a screenshot under build/screenshots/.
"""

import unittest
from urllib.parse import quote

from console_browser import ConsoleTestCase, EC, By, Keys
import pbtest  # noqa: E402  (console_browser puts test/blackbox on the path)

TAG = '/v3/device/tag'


class TestConsoleTags(ConsoleTestCase):

    def tag(self, body):
        self.assertEqual(self.srv.post(TAG, body), (200, {'seq': 0, 'ret_code': 0, 'err_msg': 'ok'}))

    def tag_find(self, tag, expect):
        """Finds the tokens of `tag` by the tag box; waits until its status says `expect`."""
        self.driver.execute_script('document.getElementById("tag-status").textContent = ""')
        box = self.driver.find_element(By.ID, 'tag-value')
        box.clear()
        box.send_keys(tag, Keys.ENTER)
        self.wait_text('tag-status', expect)

    def tag_tokens(self):
        return self.cells('#tag-results li button.link')

    def test_a_tokens_tags_are_shown_with_its_details(self):
        self.srv.bind('tok-t1', 'tina')
        self.srv.bind('tok-t2', 'tina')
        self.tag({'operator_type': 3, 'tag_list': ['vip', 'level:3'], 'token_list': ['tok-t1']})
        self.sign_in()
        self.find('tina', account_type=0)
        # Under an account, a Tags column: the token's tags in the order they were added.
        rows = self.driver.find_elements(By.CSS_SELECTOR, '#results tbody tr')
        tags = {r.find_element(By.CSS_SELECTOR, 'td.value button.link').text:
                r.find_element(By.CSS_SELECTOR, 'td[data-label="Tags"]').text for r in rows}
        self.assertEqual(tags, {'tok-t1': 'vip level:3', 'tok-t2': 'none'})
        self.assertEqual(self.cells(), ['tok-t2', 'tok-t1'])  # the tag buttons are not among the tokens
        self.find('tok-t1', by='token')
        line = self.driver.find_element(By.CSS_SELECTOR, '#results p.tags')
        self.assertEqual(line.text, 'Tags: vip level:3')
        self.assert_axe_clean('a token with tags')
        self.shot('token_tags')
        # A tag is a click away from its tokens.
        line.find_element(By.XPATH, './/button[text()="level:3"]').click()
        self.wait_text('tag-status', 'Tag level:3: 1 token')
        self.assertEqual(self.tag_tokens(), ['tok-t1'])
        self.assertEqual(self.active_id(), 'taghead|level:3')
        self.assertIn('#by=tag&q=level%3A3', self.driver.current_url)

    def test_a_tags_tokens_are_found_page_by_page_and_each_leads_to_its_accounts(self):
        tokens = ['tok-b%03d' % i for i in range(250)]
        self.tag({'operator_type': 7, 'tag_list': ['bulk'], 'token_list': tokens})
        self.srv.bind('tok-b007', 'bea', ('bob', 1005))
        self.sign_in()
        self.tag_find('bulk', 'Tag bulk: 250 tokens')
        self.assertEqual(self.tag_tokens(), tokens[:100])
        self.assertIn('100 of 250 tokens shown', self.text('tag-results'))
        self.assertIn('#by=tag&q=bulk', self.driver.current_url)
        # "Show more" by keyboard: the next page comes, and focus goes to its first token.
        more = self.driver.find_element(By.CSS_SELECTOR, '[data-focus="tagmore"]')
        more.send_keys(Keys.ENTER)
        self.wait_for(lambda d: len(self.tag_tokens()) == 200)
        self.assertEqual(self.active_id(), 'tagtoken|tok-b100')
        self.driver.find_element(By.CSS_SELECTOR, '[data-focus="tagmore"]').click()
        self.wait_for(lambda d: len(self.tag_tokens()) == 250)
        self.assertEqual(self.tag_tokens(), tokens)
        self.assertEqual(self.driver.find_elements(By.CSS_SELECTOR, '[data-focus="tagmore"]'), [])
        self.assert_axe_clean('a tag\'s tokens')
        self.shot('tag_tokens')
        # A token of the tag, clicked: its accounts, its tags, and the focus on it.
        self.driver.find_element(By.CSS_SELECTOR, '[data-focus="tagtoken|tok-b007"]').click()
        self.wait_text('status', '1 token looked up; 1 with bindings')
        self.assertEqual(sorted(self.cells()), ['bea', 'bob'])
        self.assertEqual(self.driver.find_element(By.CSS_SELECTOR, '#results p.tags').text, 'Tags: bulk')
        self.assertEqual(self.active_id(), 'entry|t|tok-b007')
        # Back: the fragment names the tag again, and it is shown.
        self.driver.back()
        self.wait_for(lambda d: '#by=tag&q=bulk' in d.current_url)
        self.assertIn('Tag bulk', self.text('tag-results'))

    def test_a_deep_link_to_a_tag_finds_it_after_sign_in_and_no_tag_is_kept_after_sign_out(self):
        self.tag({'operator_type': 9, 'tag_token_list': [['city:shenzhen', 'tok-sz1'], ['city:shenzhen', 'tok-sz2']]})
        self.driver.get(self.base + '/console/#by=tag&q=' + quote('city:shenzhen'))
        self.wait_text('signin-message', 'finds the tokens of tag city:shenzhen')
        self.driver.find_element(By.ID, 'access-id').send_keys(pbtest.APP[0])
        self.driver.find_element(By.ID, 'secret-key').send_keys(pbtest.APP[1], Keys.ENTER)
        self.wait_text('tag-status', 'Tag city:shenzhen: 2 tokens')
        self.assertEqual(self.tag_tokens(), ['tok-sz1', 'tok-sz2'])
        self.assertNotIn(pbtest.APP[1], self.driver.current_url)
        self.tag_find('nobody-has-it', 'No token has tag nobody-has-it.')
        self.tag_find(' city:shenzhen ', 'Tag city:shenzhen: 2 tokens')  # trimmed
        self.tag_find('x' * 51, 'Not a valid tag (1008007): a tag is 1 to 50 characters')
        self.driver.find_element(By.ID, 'signout').click()
        self.wait_for(EC.visibility_of_element_located((By.ID, 'access-id')))
        self.assertEqual(self.text('tag-results'), '')
        self.assertEqual(self.driver.find_element(By.ID, 'tag-value').get_attribute('value'), '')

    def test_a_read_key_sees_tags_too(self):
        self.srv.bind('tok-r1', 'rory')
        self.tag({'operator_type': 1, 'tag_list': ['vip'], 'token_list': ['tok-r1']})
        r = pbtest.run_cli('key', 'add', '--data', self.srv.data_dir, '--access-id', pbtest.APP[0],
                           '--name', 'support', '--role', 'read')
        self.assertEqual(r.returncode, 0, r)
        self.sign_in(app=(pbtest.APP[0], r.stdout.rstrip('\n').split('\n')[-1]))
        self.find('tok-r1', by='token')
        self.assertEqual(self.driver.find_element(By.CSS_SELECTOR, '#results p.tags').text, 'Tags: vip')
        self.tag_find('vip', 'Tag vip: 1 token')
        self.assertEqual(self.tag_tokens(), ['tok-r1'])
        self.shot('tags_read_key')


if __name__ == '__main__':
    unittest.main()
