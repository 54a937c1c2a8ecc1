"""Course quizzes: question banks authored by a base, quiz settings, learners' attempts and their grading."""
