"""Off-platform hours (学时管理办法第十一条): declarations with evidence, the review chain of 第十四条,
posting to the ledger, deferral (第十七条) and voiding a false declaration's year (第二十一条)."""
