"""Where comments come from: the Weibo API poller and file replay."""
