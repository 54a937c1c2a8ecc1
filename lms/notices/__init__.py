"""信息发布: notices that HR bureaus and competent departments publish to the organisations under them."""
