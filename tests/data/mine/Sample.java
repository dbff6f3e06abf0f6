public class Sample {
    /**
     * Returns the largest element of the {@code values} array.
     * <p>
     * Second paragraph is not part of the query.
     * @param values the values
     */
    @Override
    public int max(int[] values) {
        int best = values[0];
        for (int v : values) best = Math.max(best, v);
        return best;
    }

    /** Builds a sample with nothing in it. */
    public Sample() {
        super();
        int x = 1;
    }

    public int undocumented(int a) {
        int b = a;
        return b;
    }
}
