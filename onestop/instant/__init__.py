"""信用+秒批: instant approval of low-risk items by rules; the credit list they read; the heads' switch."""
