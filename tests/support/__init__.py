"""Helpers the tests share: shops to test on, the app under AppTest, processes that write."""
