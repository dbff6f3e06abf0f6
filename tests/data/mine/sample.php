<?php
class Sample
{
    /**
     * Formats the given amount of money with two decimals.
     *
     * @param float $amount
     */
    public function formatMoney($amount)
    {
        $value = round($amount, 2);
        return number_format($value, 2);
    }

    /**
     * Creates the sample object for later use.
     */
    public function __construct()
    {
        $this->a = 1;
        $this->b = 2;
    }
}
